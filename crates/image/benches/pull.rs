//! Pull throughput: a ~100 MB, 4-layer image (gzip) on a loopback `docker-registry`,
//! seeded by skopeo. Measures wharf's pull (download, verify, unpack; 3 layers at
//! once), unpacking alone, and `skopeo copy` of the same image to a directory.
//! Prints medians of 3 runs in MB/s. Needs docker-registry and skopeo.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};
use wharf_image::pull::PullOptions;
use wharf_image::unpack::UnpackOptions;
use wharf_image::ImageStore;

const LAYERS: usize = 4;
const FILES_PER_LAYER: usize = 25;
const FILE_SIZE: usize = 1 << 20;

/// Moderately compressible bytes (64 symbols, random order), like real binaries
/// and text.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x & 63) as usize]
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    if std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP: skopeo is not installed");
        return;
    }
    let Some(reg) = common::start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = common::Layout::new(&tmp.path().join("layout"));
    let mut layers = Vec::new();
    let mut raw = 0u64;
    for l in 0..LAYERS {
        let files: Vec<(String, Vec<u8>)> = (0..FILES_PER_LAYER)
            .map(|f| {
                (
                    format!("data/l{l}/f{f}.bin"),
                    data((l * 1000 + f) as u64 + 7, FILE_SIZE),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let tar = common::tar_of(&refs);
        raw += tar.len() as u64;
        layers.push(tar);
    }
    let image = layout.image(&layers, "amd64", &["/bin/true"]);
    layout.tag("bench", &[&image]);
    reg.seed(&layout.dir, "bench", "bench/big:1", &[]);
    let compressed: u64 = image
        .layer_digests
        .iter()
        .map(|d| std::fs::metadata(reg.blob_data(d)).unwrap().len())
        .sum();
    let name = format!("{}/bench/big:1", reg.host());
    println!(
        "image: {LAYERS} layers, {:.1} MB uncompressed, {:.1} MB gzip",
        raw as f64 / 1e6,
        compressed as f64 / 1e6
    );

    let mut pulls = Vec::new();
    let mut unpacks = Vec::new();
    let mut skopeos = Vec::new();
    for run in 0..3 {
        let dir = tmp.path().join(format!("store{run}"));
        let store = ImageStore::open_with(&dir, UnpackOptions::default()).unwrap();
        let t = Instant::now();
        store.pull(&name, &PullOptions::default(), &|_| {}).unwrap();
        pulls.push(t.elapsed());

        // Unpacking alone: drop the snapshots and let resolve rebuild them.
        for e in std::fs::read_dir(dir.join("snapshots")).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            }
        }
        let t = Instant::now();
        store.resolve(&name).unwrap().unwrap();
        unpacks.push(t.elapsed());
        std::fs::remove_dir_all(&dir).unwrap();

        let out = tmp.path().join(format!("skopeo{run}"));
        let t = Instant::now();
        let st = std::process::Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("dir:{}", out.display()))
            .status()
            .unwrap();
        skopeos.push(t.elapsed());
        assert!(st.success());
        std::fs::remove_dir_all(&out).unwrap();
    }
    let (p, u, s) = (median(pulls), median(unpacks), median(skopeos));
    println!(
        "wharf pull (download + verify + unpack): {:>7.1} ms  {:>6.1} MB/s uncompressed  {:>6.1} MB/s transferred",
        p.as_secs_f64() * 1e3,
        mbps(raw, p),
        mbps(compressed, p)
    );
    println!(
        "wharf unpack alone (gunzip + extract):   {:>7.1} ms  {:>6.1} MB/s uncompressed",
        u.as_secs_f64() * 1e3,
        mbps(raw, u)
    );
    println!(
        "skopeo copy to dir: (download only):    {:>7.1} ms  {:>6.1} MB/s transferred",
        s.as_secs_f64() * 1e3,
        mbps(compressed, s)
    );
}
