//! A registry's catalog (`GET /v2/_catalog`), the list `search` reads: pages
//! of repository names followed through the `Link: <…>; rel="next"` header,
//! bounded in pages, names and bytes so a hostile registry cannot make the
//! client loop or grow without end.

use crate::error::ImageError;
use crate::registry::{Body, Registry};
use ureq::http::{Method, StatusCode};

/// Names asked for in one page.
const PAGE_SIZE: usize = 100;
/// Most pages followed, and most bytes of one page.
const MAX_PAGES: usize = 1000;
const MAX_PAGE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads repository names from `registry`'s catalog until `max` of them have
/// passed `keep` or the catalog ends; names come in the registry's order.
pub fn repositories(
    registry: &Registry,
    max: usize,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, ImageError> {
    let action = "reading the catalog";
    let scopes = ["registry:catalog:*".to_string()];
    let error = |reason: String| ImageError::Registry {
        registry: registry.domain.clone(),
        action: action.into(),
        reason,
    };
    let mut found = Vec::new();
    let mut next = Some(format!("/v2/_catalog?n={PAGE_SIZE}"));
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(error(format!(
                "the catalog has more than {MAX_PAGES} pages; search with a longer term"
            )));
        }
        let resp = registry.send(Method::GET, &path, &scopes, &[], Body::Empty, action)?;
        if resp.status == StatusCode::NOT_FOUND {
            return Err(error(
                "the registry has no catalog (/v2/_catalog answered 404 Not Found), so it cannot be searched; pull by name instead".into(),
            ));
        }
        if !resp.status.is_success() {
            return Err(registry.status_error(resp, action, ""));
        }
        next = resp.header("link").and_then(next_link).filter(|link| {
            // Only this registry's catalog is followed.
            let url = registry.url(link);
            url.starts_with(&registry.url("/v2/_catalog"))
        });
        let body = resp.read_limited(MAX_PAGE_BYTES).map_err(error)?;
        let page: CatalogPage = serde_json::from_slice(&body)
            .map_err(|e| error(format!("the catalog is not valid JSON: {e}")))?;
        let names = page.repositories.unwrap_or_default();
        if names.is_empty() {
            break;
        }
        for name in names {
            if keep(&name) {
                found.push(name);
                if found.len() >= max {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

#[derive(serde::Deserialize)]
struct CatalogPage {
    repositories: Option<Vec<String>>,
}

/// The target of a `Link` header's `rel="next"` entry (RFC 8288).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(k, v)| k.trim() == "rel" && v.trim().trim_matches('"') == "next")
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn the_next_link_is_read_from_the_header() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=100>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=100")
        );
        assert_eq!(
            next_link(r#"<https://r/x>; rel="prev", </v2/_catalog?last=c>; rel=next"#).as_deref(),
            Some("/v2/_catalog?last=c")
        );
        assert_eq!(next_link(r#"</v2/_catalog?last=b>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
