//! `cargo bench -p wharf-image --bench build`: cold build and no-change rebuild of a
//! 10-step Dockerfile (FROM, ARG, ENV, WORKDIR, 2 COPY, 3 RUN, LABEL, CMD) into a
//! fresh store. RUN steps go through an in-process executor that writes files into
//! the step's upper directory, so the figures are the builder's own cost (parsing,
//! context hashing, cache lookups, layer tars, snapshots, config and index); a real
//! RUN adds the container start (about 10 ms each with the engine). Target: the
//! no-change rebuild under 100 ms.

use std::time::{Duration, Instant};
use wharf_image::build::{BuildRequest, Builder, RunError, RunExecutor, RunOutcome, RunStep};
use wharf_image::ImageStore;

struct WriteExec;

impl RunExecutor for WriteExec {
    fn run(&self, step: &RunStep<'_>) -> Result<RunOutcome, RunError> {
        let script = step.args.last().cloned().unwrap_or_default();
        let name = script.split_whitespace().last().unwrap_or("out");
        let dir = step.upper_dir.join("var/out");
        std::fs::create_dir_all(&dir).map_err(|e| RunError::new("creating the step output", e))?;
        std::fs::write(dir.join(name), vec![b'x'; 256 * 1024])
            .map_err(|e| RunError::new("writing the step output", e))?;
        Ok(RunOutcome { exit_code: 0 })
    }
}

const DOCKERFILE: &str = "FROM base
ARG VERSION=1
ENV APP_HOME=/app VERSION=$VERSION
WORKDIR /app
COPY src/ ./src/
COPY config.txt ./
RUN make one
RUN make two
RUN make three
LABEL org.example.version=$VERSION
CMD [\"/app/run\"]
";

fn base_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..200 {
        let data = vec![b'b'; 4096];
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("usr/lib/file{i}"), &data[..])
            .unwrap();
    }
    b.into_inner().unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs = 15;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("images")).unwrap();
        store.import(&base_tar()[..], Some("base"), &[]).unwrap();
        let ctx = tmp.path().join("ctx");
        std::fs::create_dir_all(ctx.join("src")).unwrap();
        for i in 0..100 {
            std::fs::write(ctx.join(format!("src/f{i}.rs")), vec![b's'; 8192]).unwrap();
        }
        std::fs::write(ctx.join("config.txt"), "x=1\n").unwrap();
        std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
        let events = |_| {};
        let cache_mounts = tmp.path().join("build-cache-mounts");
        let b = Builder {
            store: &store,
            executor: &WriteExec,
            events: &events,
            puller: None,
            cache_mount_root: &cache_mounts,
        };
        let req = BuildRequest {
            context: ctx.clone(),
            tags: vec!["bench:latest".into()],
            ..Default::default()
        };
        let t = Instant::now();
        let first = b.build(&req).unwrap();
        cold.push(t.elapsed());
        let t = Instant::now();
        let again = b.build(&req).unwrap();
        warm.push(t.elapsed());
        assert_eq!(first.id, again.id);
        assert_eq!(again.cached, again.steps - 1);
    }
    let cold = median(cold);
    let warm = median(warm);
    println!("10-step Dockerfile, {runs} runs, medians:");
    println!(
        "  cold build (6 layers, 800 KiB context):  {:>8.1} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "  no-change rebuild (all steps CACHED):    {:>8.1} ms  (target < 100 ms: {})",
        warm.as_secs_f64() * 1e3,
        if warm < Duration::from_millis(100) {
            "met"
        } else {
            "MISSED"
        }
    );
}
