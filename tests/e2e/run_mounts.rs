//! `run -v`: bind mounts resolved against the project directory, read-only
//! ones, the project's declared volumes and volumes passed on by name.

use crate::harness::sandboxed;

const YAML: &str = "services:
  box:
    image: busybox:latest
volumes:
  cache: {}
";

#[test]
fn run_mounts_binds_and_volumes_given_with_v() {
    sandboxed(
        "run_mounts::run_mounts_binds_and_volumes_given_with_v",
        |s| {
            s.import_busybox();
            let dir = s.project("mnt", YAML);
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data/hello.txt"), "from-host\n").unwrap();

            let out = s.wharf(
                &dir,
                &[
                    "run",
                    "--rm",
                    "-T",
                    "-v",
                    "./data:/mnt:ro",
                    "box",
                    "sh",
                    "-c",
                    "cat /mnt/hello.txt; touch /mnt/new",
                ],
            );
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert_eq!(stdout, "from-host\n", "stderr: {stderr}");
            assert!(stderr.contains("Read-only file system"), "{stderr}");
            assert_eq!(out.status.code(), Some(1));
            assert!(!dir.join("data/new").exists());

            let written = s.ok(
                &dir,
                &[
                    "run",
                    "--rm",
                    "-T",
                    "-v",
                    "data:/w",
                    "box",
                    "sh",
                    "-c",
                    "echo w > /w/f && echo ok",
                ],
            );
            assert_eq!(written.trim(), "ok");
            // Not the project directory's data/: a volume named "data".
            assert!(!dir.join("data/f").exists());

            s.ok(
                &dir,
                &[
                    "run",
                    "--rm",
                    "-T",
                    "-v",
                    "cache:/c",
                    "box",
                    "sh",
                    "-c",
                    "echo kept > /c/f",
                ],
            );
            let kept = s.ok(
                &dir,
                &[
                    "run",
                    "--rm",
                    "-T",
                    "-v",
                    "cache:/c:ro",
                    "box",
                    "cat",
                    "/c/f",
                ],
            );
            assert_eq!(kept.trim(), "kept");
            let volumes = s.ok(&dir, &["volume", "ls", "-q"]);
            let names: Vec<&str> = volumes.lines().collect();
            assert!(names.contains(&"mnt_cache"), "{volumes}");
            assert!(names.contains(&"data"), "{volumes}");

            let bad = s.fails(
                &dir,
                &["run", "--rm", "-T", "-v", "relative:dst", "box", "true"],
            );
            assert!(
                bad.contains("run -v \"relative:dst\"") && bad.contains("absolute"),
                "{bad}"
            );
            s.ok(&dir, &["down", "-v"]);
            s.ok(&dir, &["volume", "rm", "data"]);
        },
    );
}
