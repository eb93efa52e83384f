//! `search`: the repositories of a registry's catalog whose name contains a
//! term, as `wharf search` and the Engine API's `/images/search` answer it.
//! Private registries have no Docker Hub search API, so the catalog
//! (`/v2/_catalog`) is read instead; it carries no descriptions or stars.

use crate::registry::RegistrySettings;
use wharf_image::reference::DEFAULT_DOMAIN;
use wharf_image::registry::Registry;
use wharf_image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("bad filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("searching {registry}")]
    Registry {
        registry: String,
        #[source]
        source: Box<ImageError>,
    },
}

/// `127.0.0.1:5000/bus` → (`127.0.0.1:5000`, `bus`); a term without a
/// registry address searches Docker Hub, as docker's does.
pub fn split_term(term: &str) -> (&str, &str) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (host, rest),
        _ => (DEFAULT_DOMAIN, term),
    }
}

/// What `KEY=VALUE` filters leave: the catalog has no stars and no official
/// or automated repositories, so a filter asking for any of those keeps none.
pub fn filters_keep_all(filters: &[String]) -> Result<bool, SearchError> {
    let bad = |filter: &str, reason: &str| SearchError::Filter {
        filter: filter.to_string(),
        reason: reason.to_string(),
    };
    let mut keep = true;
    for filter in filters {
        let (key, value) = filter
            .split_once('=')
            .ok_or_else(|| bad(filter, "expected KEY=VALUE such as stars=3"))?;
        match key {
            "stars" => {
                let stars: u64 = value
                    .parse()
                    .map_err(|_| bad(filter, "stars takes a whole number"))?;
                keep &= stars == 0;
            }
            "is-official" | "is-automated" => match value {
                "true" | "1" => keep = false,
                "false" | "0" => {}
                _ => return Err(bad(filter, &format!("{key} takes true or false"))),
            },
            _ => {
                return Err(bad(
                    filter,
                    "wharf supports the filters stars, is-official and is-automated",
                ))
            }
        }
    }
    Ok(keep)
}

/// The names (with the registry's address unless it is Docker Hub) of at
/// most `limit` repositories whose name contains `term`'s part after the
/// registry, that `filters` keep.
pub fn search(
    term: &str,
    limit: usize,
    filters: &[String],
    settings: &RegistrySettings,
) -> Result<Vec<String>, SearchError> {
    if !filters_keep_all(filters)? {
        return Ok(Vec::new());
    }
    let (domain, term) = split_term(term);
    let needle = term.to_lowercase();
    let failed = |source: ImageError| SearchError::Registry {
        registry: domain.to_string(),
        source: Box::new(source),
    };
    let credentials = settings.credentials_for(domain).map_err(failed)?;
    let registry =
        Registry::connect(domain, &settings.registry_options(), credentials).map_err(failed)?;
    let names = wharf_image::catalog::repositories(&registry, limit, &|name| {
        name.to_lowercase().contains(&needle)
    })
    .map_err(failed)?;
    Ok(names
        .into_iter()
        .map(|name| {
            if domain == DEFAULT_DOMAIN {
                name
            } else {
                format!("{domain}/{name}")
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_read_from_the_term() {
        assert_eq!(
            split_term("127.0.0.1:5000/busy"),
            ("127.0.0.1:5000", "busy")
        );
        assert_eq!(split_term("localhost/app"), ("localhost", "app"));
        assert_eq!(
            split_term("reg.example/team/app"),
            ("reg.example", "team/app")
        );
        assert_eq!(split_term("busybox"), (DEFAULT_DOMAIN, "busybox"));
        assert_eq!(
            split_term("library/busybox"),
            (DEFAULT_DOMAIN, "library/busybox")
        );
    }

    #[test]
    fn filters_are_docker_s() {
        assert!(filters_keep_all(&["stars=0".into(), "is-official=false".into()]).unwrap());
        assert!(!filters_keep_all(&["stars=3".into()]).unwrap());
        assert!(!filters_keep_all(&["is-official=true".into()]).unwrap());
        assert!(filters_keep_all(&["stars=x".into()]).is_err());
        assert!(filters_keep_all(&["colour=red".into()]).is_err());
    }
}
