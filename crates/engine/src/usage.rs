//! Disk usage of the store (`system df`): images (their layers, a layer shared by
//! several images counted once), containers (their upper directories), volumes
//! (their data) and the build cache (layers of cache records that no image holds).
//! What each type could give back is what removing everything unused would
//! free: layers of images no container uses, upper directories of containers
//! that do not run, volumes no container mounts, the whole build cache.

use crate::{image_err, LinuxEngine};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use wharf_engine_api::{ContainerInfo, ContainerState, Engine, Result, VolumeEngine};

/// One image and its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub created: i64,
    /// (diff id, bytes) of each layer, bottom first.
    pub layers: Vec<(String, u64)>,
    /// Containers (any state) made from it.
    pub containers: usize,
}

/// One container and its writable layer.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub info: ContainerInfo,
    /// Bytes in its upper directory.
    pub size: u64,
    /// Volumes it mounts.
    pub volumes: usize,
}

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUsage {
    pub name: String,
    /// Containers (any state) that mount it.
    pub links: usize,
    /// Bytes in its data.
    pub size: u64,
}

/// One build cache record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheUsage {
    /// Hex of its cache key.
    pub id: String,
    /// RFC 3339 time the step was made.
    pub created: String,
    /// Its layer's diff id, if the step made one.
    pub diff_id: Option<String>,
    /// Bytes of its layer.
    pub size: u64,
    /// Whether an image holds its layer too (it is then counted with the images).
    pub shared: bool,
}

/// Everything `system df` reports.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    pub build_cache: Vec<CacheUsage>,
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSummary {
    /// `Images`, `Containers`, `Local Volumes`, `Build Cache`.
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// Whether a container counts as active: it has processes.
fn is_active(state: &ContainerState) -> bool {
    matches!(
        state,
        ContainerState::Running { .. } | ContainerState::Restarting
    )
}

impl ImageUsage {
    /// Bytes of all its layers.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|(_, s)| s).sum()
    }
}

impl DiskUsage {
    /// Bytes of the layers of `images`, each layer once.
    fn unique_layer_bytes<'a>(images: impl Iterator<Item = &'a ImageUsage>) -> u64 {
        let layers: BTreeMap<&str, u64> = images
            .flat_map(|i| i.layers.iter().map(|(d, s)| (d.as_str(), *s)))
            .collect();
        layers.values().sum()
    }

    /// Bytes of the layers of `image` that another image holds too.
    pub fn shared_size(&self, image: &ImageUsage) -> u64 {
        let others: HashSet<&str> = self
            .images
            .iter()
            .filter(|i| i.id != image.id)
            .flat_map(|i| i.layers.iter().map(|(d, _)| d.as_str()))
            .collect();
        let mine: BTreeMap<&str, u64> =
            image.layers.iter().map(|(d, s)| (d.as_str(), *s)).collect();
        mine.iter()
            .filter(|(d, _)| others.contains(*d))
            .map(|(_, s)| s)
            .sum()
    }

    /// The four summary rows, in docker's order.
    pub fn summary(&self) -> [UsageSummary; 4] {
        let images_size = Self::unique_layer_bytes(self.images.iter());
        let in_use = Self::unique_layer_bytes(self.images.iter().filter(|i| i.containers > 0));
        let containers_size = self.containers.iter().map(|c| c.size).sum();
        let stopped_size = self
            .containers
            .iter()
            .filter(|c| !is_active(&c.info.state))
            .map(|c| c.size)
            .sum();
        let mut cache_layers: BTreeMap<&str, u64> = BTreeMap::new();
        for record in self.build_cache.iter().filter(|c| !c.shared) {
            if let Some(diff_id) = &record.diff_id {
                cache_layers.insert(diff_id, record.size);
            }
        }
        let cache_size = cache_layers.values().sum();
        [
            UsageSummary {
                kind: "Images",
                total: self.images.len(),
                active: self.images.iter().filter(|i| i.containers > 0).count(),
                size: images_size,
                reclaimable: images_size - in_use,
            },
            UsageSummary {
                kind: "Containers",
                total: self.containers.len(),
                active: self
                    .containers
                    .iter()
                    .filter(|c| is_active(&c.info.state))
                    .count(),
                size: containers_size,
                reclaimable: stopped_size,
            },
            UsageSummary {
                kind: "Local Volumes",
                total: self.volumes.len(),
                active: self.volumes.iter().filter(|v| v.links > 0).count(),
                size: self.volumes.iter().map(|v| v.size).sum(),
                reclaimable: self
                    .volumes
                    .iter()
                    .filter(|v| v.links == 0)
                    .map(|v| v.size)
                    .sum(),
            },
            UsageSummary {
                kind: "Build Cache",
                total: self.build_cache.len(),
                active: 0,
                size: cache_size,
                reclaimable: cache_size,
            },
        ]
    }
}

/// Bytes of the files below `dir`, as docker counts them: every non-directory
/// once per inode, symlinks not followed; what cannot be read counts nothing.
pub fn tree_size(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        let mut total = 0;
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                total += walk(&entry.path(), seen);
            } else if meta.len() > 0 && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
        total
    }
    walk(dir, &mut HashSet::new())
}

impl LinuxEngine {
    /// What the images, containers, volumes and build cache take on disk.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let users = self.images_in_use()?;
        let mut images = Vec::new();
        let mut image_layers = BTreeSet::new();
        for details in self.images.list_details().map_err(image_err)? {
            let layers: Vec<(String, u64)> = details
                .config
                .rootfs
                .diff_ids
                .iter()
                .zip(&details.layers)
                .map(|(diff_id, desc)| {
                    let size = self.images.snapshot_size(diff_id).unwrap_or(desc.size);
                    (diff_id.clone(), size)
                })
                .collect();
            image_layers.extend(layers.iter().map(|(d, _)| d.clone()));
            images.push(ImageUsage {
                containers: users.get(&details.id).map_or(0, Vec::len),
                id: details.id,
                repo_tags: details.repo_tags,
                created: details.created,
                layers,
            });
        }
        let volumes_info = self.list_volumes(&[])?;
        let mut containers = Vec::new();
        for info in self.list_containers(&[])? {
            let size = tree_size(&self.layout.container(&info.id).join("upper"));
            let volumes = volumes_info
                .iter()
                .filter(|v| v.used_by.iter().any(|u| u.container_id == info.id))
                .count();
            containers.push(ContainerUsage {
                info,
                size,
                volumes,
            });
        }
        let volumes = volumes_info
            .iter()
            .map(|v| VolumeUsage {
                name: v.name.clone(),
                links: v
                    .used_by
                    .iter()
                    .map(|u| &u.container_id)
                    .collect::<HashSet<_>>()
                    .len(),
                size: tree_size(Path::new(&v.mountpoint)),
            })
            .collect();
        let mut build_cache = Vec::new();
        for (id, record) in wharf_image::build::cache_entries(&self.images).map_err(image_err)? {
            let (diff_id, size) = match &record.layer {
                Some(layer) => (
                    Some(layer.diff_id.clone()),
                    self.images
                        .snapshot_size(&layer.diff_id)
                        .unwrap_or(layer.desc.size),
                ),
                None => (None, 0),
            };
            build_cache.push(CacheUsage {
                shared: diff_id.as_ref().is_some_and(|d| image_layers.contains(d)),
                id,
                created: record.created,
                diff_id,
                size,
            });
        }
        Ok(DiskUsage {
            images,
            containers,
            volumes,
            build_cache,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, layers: &[(&str, u64)], containers: usize) -> ImageUsage {
        ImageUsage {
            id: id.into(),
            repo_tags: Vec::new(),
            created: 0,
            layers: layers.iter().map(|(d, s)| (d.to_string(), *s)).collect(),
            containers,
        }
    }

    fn container(state: ContainerState, size: u64) -> ContainerUsage {
        ContainerUsage {
            info: ContainerInfo {
                id: "c".into(),
                name: "c".into(),
                image: "i".into(),
                image_id: "i".into(),
                command: Vec::new(),
                created: 0,
                state,
                labels: Default::default(),
                ports: Vec::new(),
                addresses: Default::default(),
                addresses_v6: Default::default(),
                health: None,
            },
            size,
            volumes: 0,
        }
    }

    fn cache(diff_id: Option<&str>, size: u64, shared: bool) -> CacheUsage {
        CacheUsage {
            id: "k".into(),
            created: String::new(),
            diff_id: diff_id.map(str::to_string),
            size,
            shared,
        }
    }

    #[test]
    fn shared_layers_count_once_and_only_unused_ones_are_reclaimable() {
        let usage = DiskUsage {
            images: vec![
                image("base", &[("l1", 100)], 0),
                image("app", &[("l1", 100), ("l2", 30)], 2),
                image("old", &[("l3", 50)], 0),
            ],
            ..Default::default()
        };
        let [images, ..] = usage.summary();
        assert_eq!(
            images,
            UsageSummary {
                kind: "Images",
                total: 3,
                active: 1,
                size: 180,
                reclaimable: 50,
            }
        );
        assert_eq!(usage.shared_size(&usage.images[1]), 100);
        assert_eq!(usage.shared_size(&usage.images[2]), 0);
        assert_eq!(usage.images[1].size(), 130);
    }

    #[test]
    fn containers_volumes_and_cache_rows() {
        let running = ContainerState::Running {
            pid: 1,
            started_at: 0,
            paused: false,
        };
        let exited = ContainerState::Exited {
            exit_code: 0,
            finished_at: 0,
            oom_killed: false,
        };
        let usage = DiskUsage {
            containers: vec![
                container(running, 10),
                container(exited, 7),
                container(ContainerState::Created, 0),
            ],
            volumes: vec![
                VolumeUsage {
                    name: "used".into(),
                    links: 1,
                    size: 5,
                },
                VolumeUsage {
                    name: "free".into(),
                    links: 0,
                    size: 20,
                },
            ],
            build_cache: vec![
                cache(Some("l9"), 40, false),
                cache(Some("l9"), 40, false),
                cache(Some("l1"), 100, true),
                cache(None, 0, false),
            ],
            ..Default::default()
        };
        let [_, containers, volumes, cache] = usage.summary();
        assert_eq!(
            (
                containers.total,
                containers.active,
                containers.size,
                containers.reclaimable
            ),
            (3, 1, 17, 7)
        );
        assert_eq!(
            (
                volumes.total,
                volumes.active,
                volumes.size,
                volumes.reclaimable
            ),
            (2, 1, 25, 20)
        );
        assert_eq!(
            (cache.total, cache.active, cache.size, cache.reclaimable),
            (4, 0, 40, 40)
        );
    }

    #[test]
    fn tree_size_counts_hard_links_once_and_skips_directories() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        fs::write(t.path().join("d/a"), b"12345").unwrap();
        fs::hard_link(t.path().join("d/a"), t.path().join("b")).unwrap();
        fs::write(t.path().join("c"), b"xyz").unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("link")).unwrap();
        let link_len = fs::symlink_metadata(t.path().join("link")).unwrap().len();
        assert_eq!(tree_size(t.path()), 8 + link_len);
        assert_eq!(tree_size(&t.path().join("missing")), 0);
    }
}
