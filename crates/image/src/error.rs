//! `ImageError`: every failure of the image crate, worded to say what went wrong,
//! on what, and what the user can do about it.

use std::io;
use std::path::{Path, PathBuf};

/// An error of the image store, reference parser, import or layer unpacking.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A string is not a valid image reference.
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No image has that name or id.
    #[error("image {reference:?} not found: {hint}")]
    NotFound {
        /// The name or id as given.
        reference: String,
        /// What to do instead.
        hint: String,
    },

    /// A short id matches several images.
    #[error(
        "image id prefix {prefix:?} is ambiguous: it matches {count} images; give more characters of the id"
    )]
    AmbiguousId {
        /// The prefix as given.
        prefix: String,
        /// How many images it matches.
        count: usize,
    },

    /// The operation would lose information the user did not ask to lose.
    #[error("{0}")]
    Conflict(String),

    /// Content did not hash to the digest it was stored or announced under.
    #[error(
        "{what} failed verification: expected {expected}, but its content hashes to {actual}; \
         the data is corrupt or was tampered with, fetch or import it again"
    )]
    DigestMismatch {
        /// What was being verified (a blob, a layer's diff id).
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },

    /// A string is not a valid digest.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `--change` instruction could not be applied.
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange {
        /// The instruction as given.
        change: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A layer holds an entry that would write outside its snapshot (or is otherwise unsafe).
    #[error("unsafe layer entry {entry:?}: {reason}; the whole layer was refused")]
    UnsafeEntry {
        /// The entry's path in the tar stream.
        entry: String,
        /// Why it was refused.
        reason: String,
    },

    /// A layer or import stream could not be read as a (compressed) tar archive.
    #[error("bad layer {layer}: {reason}")]
    BadLayer {
        /// The layer (digest or "import stream").
        layer: String,
        /// What is wrong.
        reason: String,
    },

    /// The store's metadata is unreadable or inconsistent.
    #[error(
        "corrupt image store file {path}: {reason}; remove the image and import or pull it again"
    )]
    Corrupt {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A registry could not be reached or answered with an error.
    #[error("registry {registry}: {action}: {reason}")]
    Registry {
        /// Registry host (`docker.io`, `127.0.0.1:5000`).
        registry: String,
        /// What was being done ("pulling manifest busybox:latest").
        action: String,
        /// What went wrong, and what to do.
        reason: String,
    },

    /// The registry refused the credentials (or their absence).
    #[error("registry {registry}: {action}: access denied ({status}); {hint}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// HTTP status and registry message.
        status: String,
        /// What to do.
        hint: String,
    },

    /// A manifest, index or config from a registry or archive cannot be used.
    #[error("malformed {what}: {reason}")]
    BadManifest {
        /// Which document ("manifest busybox:latest from docker.io").
        what: String,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// An image archive (`image load`) cannot be read.
    #[error("bad image archive {archive}: {reason}")]
    BadArchive {
        /// The archive (file name or "standard input").
        archive: String,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// The docker-compatible credentials file cannot be used.
    #[error("credentials file {path}: {reason}")]
    Credentials {
        /// The config.json at fault.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// A credential helper named in the docker config cannot be used.
    #[error("credential helper {program} (asked for by {config_key}) cannot {action}: {reason}")]
    CredentialHelper {
        /// The program, `docker-credential-NAME`.
        program: String,
        /// The config key naming the helper: `credsStore` or `credHelpers["host"]`.
        config_key: String,
        /// The helper call: get, store, erase, list.
        action: String,
        /// What went wrong, with what the helper said.
        reason: String,
    },

    /// A filesystem operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("create", "read", "rename", ...).
        action: String,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    /// An `Io` error for `action` on `path`.
    pub(crate) fn io(action: &str, path: &Path, source: io::Error) -> Self {
        ImageError::Io {
            action: action.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `map_err` helper: `.map_err(ioe("read", &path))`.
pub(crate) fn ioe<'a>(
    action: &'a str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ImageError + 'a {
    move |e| ImageError::io(action, path, e)
}

/// `map_err` helper for nix errors.
pub(crate) fn nixe<'a>(
    action: &'a str,
    path: &'a Path,
) -> impl FnOnce(nix::errno::Errno) -> ImageError + 'a {
    move |e| ImageError::io(action, path, io::Error::from(e))
}
