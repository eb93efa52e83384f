//! Images through the binary: `container export` and `container commit` of a
//! running container (and what a container of the committed image sees),
//! `system df`, and round trips through a real registry (Debian's
//! `docker-registry`) on 127.0.0.1 inside the test's network namespace:
//! import → push → rm → pull → run, save → load into a fresh state root → run,
//! with `login` / `logout` against htpasswd, and against token authentication
//! served by a small token service in the test that signs its tokens with
//! `openssl`.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SNAP: &str = "services:
  app:
    image: busybox
    command: [\"sh\", \"-c\", \"mkdir -p /srv/app && echo committed > /srv/app/state && rm /etc/group && echo in-volume > /data/kept && touch /srv/app/ready && exec sleep 1000\"]
    volumes:
      - data:/data
volumes:
  data:
";

/// Path → (kind, content or link target) of every entry of a tar.
fn tar_entries(data: &[u8]) -> BTreeMap<String, (char, String)> {
    let mut archive = tar::Archive::new(data);
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            _ => 'f',
        };
        let content = match entry.link_name().unwrap() {
            Some(target) => target.to_string_lossy().into_owned(),
            None => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        out.insert(path.trim_end_matches('/').to_string(), (kind, content));
    }
    out
}

/// Path → content of the regular files of a tar.
fn tar_files(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(data);
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(entry.path().unwrap().to_string_lossy().into_owned(), bytes);
    }
    out
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn export_and_commit_a_running_container_then_run_the_committed_image() {
    sandboxed(
        "images::export_and_commit_a_running_container_then_run_the_committed_image",
        |s| {
            s.import_busybox();
            let dir = s.project("snap", SNAP);
            s.ok(&dir, &["up", "-d"]);
            eventually("the container's changes", Duration::from_secs(20), || {
                s.wharf(&dir, &["exec", "-T", "app", "test", "-e", "/srv/app/ready"])
                    .status
                    .success()
                    .then_some(())
            });

            // diff: what the container changed, parents first; not its volume,
            // not the engine's /etc mount points.
            let diff = s.ok(&dir, &["container", "diff", "snap-app-1"]);
            let lines: Vec<&str> = diff.lines().collect();
            for want in [
                "C /etc",
                "D /etc/group",
                "A /srv",
                "A /srv/app",
                "A /srv/app/state",
            ] {
                assert!(lines.contains(&want), "{want} missing:\n{diff}");
            }
            // The mount point of the volume is a change (as under docker); what
            // the volume holds is not.
            assert!(
                !diff.contains("/data/kept") && !diff.contains("/etc/hosts"),
                "{diff}"
            );
            let missing = s.fails(&dir, &["container", "diff", "nosuch"]);
            assert!(missing.contains("nosuch"), "{missing}");

            // Export while it runs: its changes, the image's files, whiteouts
            // applied, nothing of its volume.
            let running_tar = s.work.path().join("running.tar");
            s.ok(
                &dir,
                &[
                    "container",
                    "export",
                    "-o",
                    running_tar.to_str().unwrap(),
                    "snap-app-1",
                ],
            );
            let running = tar_entries(&std::fs::read(&running_tar).unwrap());
            assert_eq!(running["srv/app/state"], ('f', "committed\n".to_string()));
            assert_eq!(running["bin/sh"], ('l', "busybox".to_string()));
            assert!(running.contains_key("bin/busybox") && running.contains_key("etc/passwd"));
            assert!(
                !running.contains_key("etc/group"),
                "a deleted file was exported"
            );
            assert!(running.keys().all(|p| !p.contains(".wh.")), "{running:?}");
            assert!(
                !running.contains_key("data/kept"),
                "volume content was exported"
            );

            // Commit while it runs: frozen during the diff, running afterwards.
            let id = s.ok(
                &dir,
                &[
                    "container",
                    "commit",
                    "-m",
                    "snapshot of app",
                    "-a",
                    "Ann Example <ann@example.org>",
                    "-c",
                    "ENV MODE=committed",
                    "-c",
                    "CMD [\"cat\", \"/srv/app/state\"]",
                    "snap-app-1",
                    "snap:v1",
                ],
            );
            assert!(id.trim().starts_with("sha256:"), "{id}");
            let ps = json_lines(&s.ok(&dir, &["ps", "--format", "json"]));
            assert_eq!(ps[0]["State"], "running", "{ps:?}");
            assert!(
                !ps[0]["Status"].as_str().unwrap().contains("Paused"),
                "{ps:?}"
            );

            let inspect: serde_json::Value =
                serde_json::from_str(&s.ok(&dir, &["image", "inspect", "snap:v1"])).unwrap();
            let image = &inspect[0];
            assert_eq!(image["Id"], id.trim());
            assert_eq!(image["Author"], "Ann Example <ann@example.org>");
            assert_eq!(image["Comment"], "snapshot of app");
            assert_eq!(
                image["Config"]["Cmd"],
                serde_json::json!(["cat", "/srv/app/state"])
            );
            let env = image["Config"]["Env"].as_array().unwrap();
            assert!(env.contains(&"MODE=committed".into()), "{env:?}");
            assert!(
                env.iter()
                    .all(|e| !e.as_str().unwrap().starts_with("HOSTNAME=")),
                "{env:?}"
            );
            assert_eq!(
                image["Config"]["Labels"]["com.docker.compose.service"],
                "app"
            );
            assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 2);
            // The new layer holds the changes as OCI entries, and not the empty
            // mount points of the /etc files the engine binds in.
            let saved = s.work.path().join("snap.tar");
            s.ok(
                &dir,
                &["image", "save", "-o", saved.to_str().unwrap(), "snap:v1"],
            );
            let files = tar_files(&std::fs::read(&saved).unwrap());
            let manifest: serde_json::Value =
                serde_json::from_slice(&files["manifest.json"]).unwrap();
            let top = manifest[0]["Layers"][1].as_str().unwrap();
            let layer = tar_entries(&files[top]);
            assert_eq!(layer["srv/app/state"].1, "committed\n");
            assert!(layer.contains_key("etc/.wh.group"), "{layer:?}");
            for absent in ["etc/hosts", "etc/hostname", "etc/resolv.conf", "data/kept"] {
                assert!(
                    !layer.contains_key(absent),
                    "{absent} in the layer: {layer:?}"
                );
            }
            let history = s.ok(&dir, &["image", "history", "--no-trunc", "snap:v1"]);
            let top = history.lines().nth(1).unwrap();
            assert!(
                top.contains("snapshot of app") && top.contains("sh -c mkdir"),
                "{history}"
            );

            // Export once stopped, to standard output: the same files.
            s.ok(&dir, &["stop", "-t", "1"]);
            let out = s.wharf(&dir, &["container", "export", "snap-app-1"]);
            assert!(out.status.success(), "{out:?}");
            let stopped = tar_entries(&out.stdout);
            assert_eq!(
                stopped.keys().collect::<Vec<_>>(),
                running.keys().collect::<Vec<_>>()
            );

            // A container of the new image sees the committed files and settings.
            let other = s.project("fromsnap", "services:\n  again:\n    image: snap:v1\n");
            assert_eq!(s.ok(&other, &["run", "--rm", "again"]), "committed\n");
            let seen = s.ok(
                &other,
                &[
                    "run",
                    "--rm",
                    "again",
                    "sh",
                    "-c",
                    "ls /etc/group 2>&1 || echo MODE=$MODE; ls /data",
                ],
            );
            assert!(seen.contains("No such file"), "{seen}");
            assert!(seen.contains("MODE=committed"), "{seen}");
            assert!(
                !seen.contains("kept"),
                "volume content was committed: {seen}"
            );

            let err = s.fails(&dir, &["container", "commit", "nosuch"]);
            assert!(
                err.contains("nosuch") && err.contains("wharf ps -a"),
                "{err}"
            );
            let err = s.fails(
                &dir,
                &["container", "commit", "-c", "RUN make", "snap-app-1"],
            );
            assert!(err.contains("RUN make"), "{err}");
            s.ok(&other, &["down"]);
            s.ok(&dir, &["down", "-v"]);
        },
    );
}

#[test]
fn system_df_counts_images_containers_volumes_and_what_is_reclaimable() {
    sandboxed(
        "images::system_df_counts_images_containers_volumes_and_what_is_reclaimable",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "usage",
                "services:
  keeper:
    image: busybox
    command: [\"sh\", \"-c\", \"head -c 100000 /dev/zero > /data/blob && touch /tmp/ready && exec sleep 1000\"]
    volumes:
      - data:/data
  once:
    image: busybox
    command: [\"sh\", \"-c\", \"head -c 5000 /dev/zero > /big\"]
volumes:
  data:
",
            );
            s.ok(&dir, &["up", "-d"]);
            eventually(
                "the volume data and the exited job",
                Duration::from_secs(20),
                || {
                    let ready = s
                        .wharf(&dir, &["exec", "-T", "keeper", "test", "-e", "/tmp/ready"])
                        .status
                        .success();
                    let ps = json_lines(&s.ok(&dir, &["ps", "-a", "--format", "json", "once"]));
                    (ready && ps[0]["State"] == "exited").then_some(())
                },
            );
            let df = |s: &Sandbox| -> BTreeMap<String, serde_json::Value> {
                json_lines(&s.ok(&dir, &["system", "df", "--format", "json"]))
                    .into_iter()
                    .map(|row| (row["Type"].as_str().unwrap().to_string(), row))
                    .collect()
            };
            let rows = df(s);
            let images = &rows["Images"];
            assert_eq!(
                (images["TotalCount"].as_str(), images["Active"].as_str()),
                (Some("1"), Some("1"))
            );
            assert_eq!(images["Reclaimable"], "0B (0%)");
            let containers = &rows["Containers"];
            assert_eq!(
                (
                    containers["TotalCount"].as_str(),
                    containers["Active"].as_str()
                ),
                (Some("2"), Some("1"))
            );
            // Only the exited job's /big is in an upper directory; all of it is reclaimable.
            assert_eq!(containers["Size"], "5kB");
            assert_eq!(containers["Reclaimable"], "5kB (100%)");
            let volumes = &rows["Local Volumes"];
            assert_eq!(
                (volumes["TotalCount"].as_str(), volumes["Active"].as_str()),
                (Some("1"), Some("1"))
            );
            assert_eq!(volumes["Size"], "100kB");
            assert_eq!(volumes["Reclaimable"], "0B (0%)");
            assert_eq!(rows["Build Cache"]["TotalCount"], "0");

            let table = s.ok(&dir, &["system", "df"]);
            let lines: Vec<&str> = table.lines().collect();
            assert_eq!(
                lines[0].split_whitespace().collect::<Vec<_>>(),
                ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            );
            assert!(
                lines[2].starts_with("Containers ") && lines[2].ends_with("5kB (100%)"),
                "{table}"
            );
            let verbose = s.ok(&dir, &["system", "df", "-v"]);
            for expected in [
                "Images space usage:",
                "busybox ",
                "Containers space usage:",
                "usage-once-1",
                "Local Volumes space usage:",
                "usage_data ",
                "Build cache usage: 0B",
            ] {
                assert!(
                    verbose.contains(expected),
                    "{expected:?} missing:\n{verbose}"
                );
            }

            // Without containers, the image and the volume are reclaimable.
            s.ok(&dir, &["down", "-t", "1"]);
            let rows = df(s);
            assert_eq!(rows["Containers"]["TotalCount"], "0");
            assert_eq!(rows["Images"]["Active"], "0");
            assert!(rows["Images"]["Reclaimable"]
                .as_str()
                .unwrap()
                .ends_with("(100%)"));
            assert_eq!(rows["Local Volumes"]["Reclaimable"], "100kB (100%)");
            s.ok(&dir, &["volume", "rm", "usage_data"]);
        },
    );
}

use wharf_testkit::registry::{RegistryAuth, TestRegistry, PASSWORD, USER};

/// The test's registry, or `None` (said why) when `docker-registry` is missing.
fn start_registry(auth: RegistryAuth<'_>) -> Option<TestRegistry> {
    TestRegistry::start(auth)
}

/// A docker client config directory of the test's own.
fn docker_config(s: &Sandbox) -> PathBuf {
    let dir = s.work.path().join("docker-config");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run wharf with the test's docker config (and a state root when given).
fn wharf(
    s: &Sandbox,
    config: &Path,
    root: Option<&Path>,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    let mut env = vec![("DOCKER_CONFIG", config.to_str().unwrap())];
    if let Some(root) = root {
        env.push(("WHARF_ROOT", root.to_str().unwrap()));
    }
    s.wharf_with(s.work.path(), args, &env, stdin)
}

fn succeeds(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: std::process::Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what} should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Log in, push, remove, pull and run `reference` (busybox imported under that name).
fn login_push_rm_pull_run(s: &Sandbox, config: &Path, registry: &str, reference: &str) {
    s.ok(s.work.path(), &["image", "tag", "busybox", reference]);
    let err = fails(
        wharf(s, config, None, &["image", "push", reference], b""),
        "an anonymous push",
    );
    assert!(err.contains(&format!("wharf login {registry}")), "{err}");
    let err = fails(
        wharf(
            s,
            config,
            None,
            &["login", registry, "-u", USER, "--password-stdin"],
            b"wrong\n",
        ),
        "a login with a wrong password",
    );
    assert!(err.contains(registry), "{err}");
    assert!(
        !config.join("config.json").exists(),
        "a failed login stored credentials"
    );

    let out = succeeds(
        wharf(
            s,
            config,
            None,
            &["login", registry, "-u", USER, "--password-stdin"],
            format!("{PASSWORD}\n").as_bytes(),
        ),
        "login",
    );
    assert_eq!(out.trim(), "Login Succeeded");
    let stored = config.join("config.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "config.json mode {mode:o}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert!(doc["auths"][registry]["auth"].is_string(), "{doc}");

    succeeds(
        wharf(s, config, None, &["image", "push", reference], b""),
        "push",
    );
    s.ok(s.work.path(), &["image", "rm", reference, "busybox"]);
    assert_eq!(
        s.ok(s.work.path(), &["image", "ls", "-q"]),
        "",
        "the image is gone"
    );
    let project = s.project(
        "pulled",
        &format!("services:\n  app:\n    image: {reference}\n    command: [sleep, '60']\n"),
    );
    let env = [("DOCKER_CONFIG", config.to_str().unwrap())];
    // up pulls what is missing, with the stored credentials; not with --pull never.
    let never = s.wharf_with(&project, &["up", "-d", "--pull", "never"], &env, b"");
    assert_eq!(never.status.code(), Some(1), "{never:?}");
    let err = String::from_utf8_lossy(&never.stderr);
    assert!(err.contains("not found"), "{err}");
    let up = s.wharf_with(&project, &["up", "-d"], &env, b"");
    let err = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "up: {err}");
    assert!(err.contains("Image app  Pulled"), "{err}");
    // Present now: the next up pulls nothing.
    let again = s.wharf_with(&project, &["up", "-d"], &env, b"");
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("Pull"),
        "{again:?}"
    );
    s.ok(&project, &["down", "-t", "0"]);
    assert_eq!(
        s.ok(&project, &["run", "--rm", "app", "echo", "pulled and ran"]),
        "pulled and ran\n"
    );
    s.ok(&project, &["down"]);
}

#[test]
fn registry_round_trip_with_htpasswd_login_and_save_load_into_a_fresh_root() {
    sandboxed(
        "images::registry_round_trip_with_htpasswd_login_and_save_load_into_a_fresh_root",
        |s| {
            let Some(registry) = start_registry(RegistryAuth::Htpasswd) else {
                return;
            };
            s.import_busybox();
            let config = docker_config(s);
            let host = registry.host();
            let reference = format!("{host}/e2e/busybox:v1");
            login_push_rm_pull_run(s, &config, &host, &reference);

            // save → load into a fresh state root → run there.
            let archive = s.work.path().join("saved.tar");
            s.ok(
                s.work.path(),
                &["image", "save", "-o", archive.to_str().unwrap(), &reference],
            );
            let fresh = tempfile::tempdir().unwrap();
            let loaded = succeeds(
                wharf(
                    s,
                    &config,
                    Some(fresh.path()),
                    &["image", "load", "-i", archive.to_str().unwrap()],
                    b"",
                ),
                "load",
            );
            assert!(
                loaded.contains(&format!("Loaded image: {reference}")),
                "{loaded}"
            );
            let project = s.project(
                "fresh",
                &format!("services:\n  app:\n    image: {reference}\n"),
            );
            let ran = s.wharf_with(
                &project,
                &["run", "--rm", "app", "echo", "loaded and ran"],
                &[("WHARF_ROOT", fresh.path().to_str().unwrap())],
                b"",
            );
            assert_eq!(succeeds(ran, "run in the fresh root"), "loaded and ran\n");
            let down = s.wharf_with(
                &project,
                &["down"],
                &[("WHARF_ROOT", fresh.path().to_str().unwrap())],
                b"",
            );
            succeeds(down, "down in the fresh root");

            // logout: the credentials are gone, and the registry refuses a pull.
            let out = succeeds(wharf(s, &config, None, &["logout", &host], b""), "logout");
            assert_eq!(out.trim(), format!("Removing login credentials for {host}"));
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(config.join("config.json")).unwrap())
                    .unwrap();
            assert!(doc["auths"].get(&host).is_none(), "{doc}");
            let err = fails(
                wharf(
                    s,
                    &config,
                    Some(fresh.path()),
                    &["image", "pull", &format!("{host}/e2e/busybox:v2")],
                    b"",
                ),
                "an anonymous pull",
            );
            assert!(err.contains(&format!("wharf login {host}")), "{err}");
            drop(registry);
        },
    );
}

const TOKEN_SERVICE: &str = "wharf-e2e-registry";
const TOKEN_ISSUER: &str = "wharf-e2e-token-service";

/// The token service's signing key and certificate, made with `openssl`.
struct SigningKey {
    key: PathBuf,
    cert: PathBuf,
    /// The certificate, DER, base64: the tokens' `x5c`.
    cert_der_b64: String,
}

fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running openssl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn signing_key(dir: &Path) -> SigningKey {
    use base64::Engine as _;
    let key = dir.join("token.key");
    let cert = dir.join("token.crt");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=wharf-e2e-token-service",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ],
        b"",
    );
    let der = openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-outform", "DER"],
        b"",
    );
    SigningKey {
        key,
        cert,
        cert_der_b64: base64::engine::general_purpose::STANDARD.encode(der),
    }
}

fn base64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A JWT granting `access` (repository name → actions), RS256-signed.
fn sign_token(key: &SigningKey, subject: &str, access: &[(String, Vec<String>)]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [key.cert_der_b64]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE,
        "iat": now, "nbf": now - 10, "exp": now + 300, "jti": format!("{now}-{subject}"),
        "access": access.iter().map(|(name, actions)| serde_json::json!({
            "type": "repository", "name": name, "actions": actions,
        })).collect::<Vec<_>>(),
    });
    let input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let signature = openssl(
        &["dgst", "-sha256", "-sign", key.key.to_str().unwrap()],
        input.as_bytes(),
    );
    format!("{input}.{}", base64url(&signature))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answer one `GET /token?service=…&scope=…` as a registry's token service:
/// 401 for wrong credentials; with the right ones every scope asked for under
/// `e2e/`; anonymously nothing.
fn answer_token_request(stream: TcpStream, key: &SigningKey) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let expected = {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        )
    };
    let service_ok = params
        .iter()
        .any(|(k, v)| k == "service" && v == TOKEN_SERVICE);
    let (status, body) = match authorization {
        _ if !service_ok => (
            "400 Bad Request",
            r#"{"details":"unknown service"}"#.to_string(),
        ),
        Some(a) if a != expected => (
            "401 Unauthorized",
            r#"{"details":"wrong credentials"}"#.to_string(),
        ),
        authorization => {
            let access: Vec<(String, Vec<String>)> = match authorization {
                None => Vec::new(),
                Some(_) => params
                    .iter()
                    .filter(|(k, _)| k == "scope")
                    .filter_map(|(_, scope)| {
                        let (kind, rest) = scope.split_once(':')?;
                        let (name, actions) = rest.rsplit_once(':')?;
                        (kind == "repository" && name.starts_with("e2e/")).then(|| {
                            (
                                name.to_string(),
                                actions.split(',').map(str::to_string).collect(),
                            )
                        })
                    })
                    .collect(),
            };
            let token = sign_token(key, USER, &access);
            (
                "200 OK",
                serde_json::json!({"token": token, "access_token": token, "expires_in": 300})
                    .to_string(),
            )
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn registry_round_trip_with_bearer_tokens_from_a_token_service() {
    sandboxed(
        "images::registry_round_trip_with_bearer_tokens_from_a_token_service",
        |s| {
            if Command::new("openssl").arg("version").output().is_err() {
                eprintln!("SKIP: openssl is not installed (apt-get install openssl)");
                return;
            }
            let key = Arc::new(signing_key(s.work.path()));
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let realm = format!("http://{}/token", listener.local_addr().unwrap());
            let requests = Arc::new(AtomicUsize::new(0));
            {
                let (key, requests) = (key.clone(), requests.clone());
                // Serves until the sandboxed test process ends.
                std::thread::spawn(move || {
                    for stream in listener.incoming().flatten() {
                        requests.fetch_add(1, Ordering::SeqCst);
                        answer_token_request(stream, &key);
                    }
                });
            }
            let Some(registry) = start_registry(RegistryAuth::Token {
                realm: &realm,
                service: TOKEN_SERVICE,
                issuer: TOKEN_ISSUER,
                root_cert: &key.cert,
            }) else {
                return;
            };
            let challenge = http_get(&registry.host(), "/v2/").unwrap();
            assert!(
                challenge.contains(&format!("Bearer realm=\"{realm}\"")),
                "the registry does not ask for tokens: {challenge}"
            );
            s.import_busybox();
            let config = docker_config(s);
            let host = registry.host();
            let reference = format!("{host}/e2e/tokens:v1");
            login_push_rm_pull_run(s, &config, &host, &reference);
            assert!(
                requests.load(Ordering::SeqCst) >= 4,
                "the token service was not used"
            );
        },
    );
}

/// Run wharf with the test's docker config and `path` as `PATH`.
fn wharf_on_path(
    s: &Sandbox,
    config: &Path,
    path: &str,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    let env = [("DOCKER_CONFIG", config.to_str().unwrap()), ("PATH", path)];
    s.wharf_with(s.work.path(), args, &env, stdin)
}

fn write_config(config: &Path, doc: serde_json::Value) {
    std::fs::write(config.join("config.json"), doc.to_string()).unwrap();
}

#[test]
fn registry_credentials_through_a_credential_helper() {
    sandboxed(
        "images::registry_credentials_through_a_credential_helper",
        |s| {
            let Some(registry) = start_registry(RegistryAuth::Htpasswd) else {
                return;
            };
            s.import_busybox();
            let helper = wharf_testkit::credhelper::FakeCredentialHelper::install("wharftest");
            let path = helper.path_env();
            let config = docker_config(s);
            let host = registry.host();
            let reference = format!("{host}/e2e/private:v1");
            s.ok(s.work.path(), &["image", "tag", "busybox", &reference]);

            // login stores through credsStore; config.json keeps no secret.
            write_config(&config, serde_json::json!({"credsStore": "wharftest"}));
            let login = wharf_on_path(
                s,
                &config,
                &path,
                &["login", &host, "-u", USER, "--password-stdin"],
                format!("{PASSWORD}\n").as_bytes(),
            );
            let err = String::from_utf8_lossy(&login.stderr).into_owned();
            assert_eq!(succeeds(login, "login").trim(), "Login Succeeded");
            assert!(!err.contains("unencrypted"), "{err}");
            assert_eq!(
                helper.secrets(),
                vec![(host.clone(), USER.to_string(), PASSWORD.to_string())]
            );
            let stored = config.join("config.json");
            let text = std::fs::read_to_string(&stored).unwrap();
            assert!(
                !text.contains(PASSWORD) && !text.contains("\"auth\""),
                "{text}"
            );
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(doc["credsStore"], "wharftest", "{text}");
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "config.json mode {mode:o}");

            // push and pull of the private image with the helper's credentials.
            succeeds(
                wharf_on_path(s, &config, &path, &["image", "push", &reference], b""),
                "push through credsStore",
            );
            s.ok(s.work.path(), &["image", "rm", &reference]);
            succeeds(
                wharf_on_path(s, &config, &path, &["image", "pull", &reference], b""),
                "pull through credsStore",
            );
            assert!(
                helper.calls().iter().any(|c| c == &format!("get {host}")),
                "{:?}",
                helper.calls()
            );

            // credHelpers for this registry wins over a credsStore (here a
            // missing one, which would fail if it were asked).
            write_config(
                &config,
                serde_json::json!({"credsStore": "absent", "credHelpers": {host.clone(): "wharftest"}}),
            );
            s.ok(s.work.path(), &["image", "rm", &reference]);
            succeeds(
                wharf_on_path(s, &config, &path, &["image", "pull", &reference], b""),
                "pull through credHelpers",
            );

            // A helper that fails: what it said is in the error.
            helper.fail_with("the keychain is locked");
            let err = fails(
                wharf_on_path(s, &config, &path, &["image", "pull", &reference], b""),
                "a pull with a failing helper",
            );
            assert!(err.contains("docker-credential-wharftest"), "{err}");
            assert!(err.contains("the keychain is locked"), "{err}");
            helper.recover();

            // A helper that is not installed: named, with the key that asked for it.
            s.ok(s.work.path(), &["image", "rm", &reference]);
            write_config(&config, serde_json::json!({"credsStore": "absent"}));
            let err = fails(
                wharf_on_path(s, &config, &path, &["image", "pull", &reference], b""),
                "a pull with a missing helper",
            );
            assert!(err.contains("docker-credential-absent"), "{err}");
            assert!(err.contains("credsStore"), "{err}");
            assert!(err.contains("not on PATH"), "{err}");

            // logout erases through the helper; the registry then refuses a pull.
            write_config(
                &config,
                serde_json::json!({"credHelpers": {host.clone(): "wharftest"}}),
            );
            let out = succeeds(
                wharf_on_path(s, &config, &path, &["logout", &host], b""),
                "logout",
            );
            assert_eq!(out.trim(), format!("Removing login credentials for {host}"));
            assert!(helper.secrets().is_empty(), "{:?}", helper.secrets());
            assert!(helper.calls().contains(&format!("erase {host}")));
            let err = fails(
                wharf_on_path(s, &config, &path, &["image", "pull", &reference], b""),
                "a pull after logout",
            );
            assert!(err.contains(&format!("wharf login {host}")), "{err}");
            drop(registry);
        },
    );
}
