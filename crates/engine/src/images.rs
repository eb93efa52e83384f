//! Engine-level image operations that need to know about containers: removing an
//! image refuses (or, forced, only untags) one that a container uses, pruning
//! skips them, and the project's images are those its containers use.

use crate::{image_err, LinuxEngine};
use std::collections::BTreeMap;
use wharf_engine_api::{EngineError, Result};

impl LinuxEngine {
    /// Image id → names of the containers (any state) created from it.
    pub fn images_in_use(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for record in self.all_records()? {
            out.entry(record.image_id.clone())
                .or_default()
                .push(record.name.clone());
        }
        Ok(out)
    }

    /// `docker rmi [-f]`: untag, and delete the image when no tag is left, unless a
    /// container uses it: then refuse, or with `force` only remove its names (the
    /// content stays for the containers, as a dangling image).
    pub fn remove_image(&self, reference_or_id: &str, force: bool) -> Result<Vec<String>> {
        let details = self.images().inspect(reference_or_id).map_err(image_err)?;
        let in_use = self.images_in_use()?;
        let users = in_use.get(&details.id).cloned().unwrap_or_default();
        let by_id = details
            .repo_tags
            .iter()
            .all(|t| !same_name(t, reference_or_id));
        if users.is_empty() || (!by_id && details.repo_tags.len() > 1) {
            return self
                .images()
                .remove_with(reference_or_id, force)
                .map_err(image_err);
        }
        if !force {
            return Err(EngineError::Invalid(format!(
                "conflict: unable to remove image {reference_or_id:?} ({}): it is used by container{} {}; remove {} first (wharf down), or use -f to untag it",
                short(&details.id),
                if users.len() > 1 { "s" } else { "" },
                users.join(", "),
                if users.len() > 1 { "them" } else { "it" },
            )));
        }
        self.images().untag_all(reference_or_id).map_err(image_err)
    }

    /// `docker image prune [-a]`: remove dangling images (with `all`, every image no
    /// container uses) and the content only they held. Returns the output lines and
    /// the bytes reclaimed.
    pub fn prune_images(&self, all: bool) -> Result<(Vec<String>, u64)> {
        let in_use = self.images_in_use()?;
        let images = self.images().list_details().map_err(image_err)?;
        let mut lines = Vec::new();
        let mut reclaimed = 0u64;
        for image in images {
            if in_use.contains_key(&image.id) {
                continue;
            }
            if !all && !image.repo_tags.is_empty() {
                continue;
            }
            match self.images().remove_with(&image.id, true) {
                Ok(mut l) => {
                    reclaimed += image.size;
                    lines.append(&mut l);
                }
                Err(e) => lines.push(format!("error removing {}: {e}", short(&image.id))),
            }
        }
        self.images().gc().map_err(image_err)?;
        Ok((lines, reclaimed))
    }
}

fn short(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..12.min(h.len())]
}

/// Whether the familiar tag `tag` is what `query` names.
fn same_name(tag: &str, query: &str) -> bool {
    use wharf_image::Reference;
    match (Reference::parse(tag), Reference::parse(query)) {
        (Ok(a), Ok(b)) => a.with_default_tag() == b.with_default_tag(),
        _ => false,
    }
}
