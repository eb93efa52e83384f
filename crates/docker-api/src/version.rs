//! API version negotiation: the optional `/vX.Y` prefix of a request path,
//! checked against the range wharf serves (docker's 1.24 … 1.47).

use crate::error::ApiError;
use std::fmt;

/// An Engine API version, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u16,
    pub minor: u16,
}

impl ApiVersion {
    /// The oldest version a client may ask for.
    pub const MIN: ApiVersion = ApiVersion::new(1, 24);
    /// The version wharf speaks, and the one a request without a prefix gets.
    pub const MAX: ApiVersion = ApiVersion::new(1, 47);

    pub const fn new(major: u16, minor: u16) -> Self {
        ApiVersion { major, minor }
    }

    /// `1.41` → 1.41; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || !all_digits(minor) {
            return None;
        }
        Some(ApiVersion::new(major.parse().ok()?, minor.parse().ok()?))
    }

    /// The version a request asks for with its path's `vX.Y` segment, or
    /// docker's 400 message when it is out of range.
    pub fn negotiate(requested: &str) -> Result<Self, ApiError> {
        let version = ApiVersion::parse(requested).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid API version {requested:?} in the request path: use /v{}/… to /v{}/…",
                Self::MIN,
                Self::MAX
            ))
        })?;
        if version > Self::MAX {
            return Err(ApiError::bad_request(format!(
                "client version {version} is too new. Maximum supported API version is {}",
                Self::MAX
            )));
        }
        if version < Self::MIN {
            return Err(ApiError::bad_request(format!(
                "client version {version} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                Self::MIN
            )));
        }
        Ok(version)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Split the path's segments into the requested version (the newest when
/// the path has no `vX.Y` prefix) and the rest.
pub fn strip_prefix<'a>(segments: &'a [&'a str]) -> Result<(ApiVersion, &'a [&'a str]), ApiError> {
    match segments.split_first() {
        Some((first, rest))
            if first.len() > 1
                && first.starts_with('v')
                && first[1..].starts_with(|c: char| c.is_ascii_digit()) =>
        {
            Ok((ApiVersion::negotiate(&first[1..])?, rest))
        }
        _ => Ok((ApiVersion::MAX, segments)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_without_prefix_gets_the_newest_version() {
        let (version, rest) = strip_prefix(&["containers", "json"]).unwrap();
        assert_eq!(version, ApiVersion::MAX);
        assert_eq!(rest, ["containers", "json"]);
    }

    #[test]
    fn a_prefix_in_range_is_stripped_and_kept() {
        let (version, rest) = strip_prefix(&["v1.41", "containers", "json"]).unwrap();
        assert_eq!(version, ApiVersion::new(1, 41));
        assert_eq!(rest, ["containers", "json"]);
        assert_eq!(
            strip_prefix(&["v1.24", "_ping"]).unwrap().0,
            ApiVersion::MIN
        );
        assert_eq!(
            strip_prefix(&["v1.47", "_ping"]).unwrap().0,
            ApiVersion::MAX
        );
    }

    #[test]
    fn versions_out_of_range_are_docker_400s() {
        let too_new = strip_prefix(&["v1.48", "_ping"]).unwrap_err();
        assert_eq!(too_new.status(), 400);
        assert_eq!(
            too_new.to_string(),
            "client version 1.48 is too new. Maximum supported API version is 1.47"
        );
        let too_old = strip_prefix(&["v1.23", "_ping"]).unwrap_err();
        assert_eq!(too_old.status(), 400);
        assert!(too_old
            .to_string()
            .starts_with("client version 1.23 is too old"));
        assert_eq!(strip_prefix(&["v1.x", "_ping"]).unwrap_err().status(), 400);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.10").unwrap());
        assert_eq!(ApiVersion::parse("1."), None);
        assert_eq!(ApiVersion::parse("a.1"), None);
    }
}
