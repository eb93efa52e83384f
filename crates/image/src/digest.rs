//! Content digests (`sha256:<64 hex>`) and readers that hash what passes through them.

use crate::error::ImageError;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};

/// The only algorithm the store writes and accepts.
pub const SHA256: &str = "sha256";

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("{SHA256}:{}", hex::encode(Sha256::digest(data)))
}

/// Check that `d` is `sha256:` followed by 64 lowercase hex digits.
pub fn validate(d: &str) -> Result<(), ImageError> {
    hex_of(d).map(drop)
}

/// The hex part of a valid `sha256:<hex>` digest.
pub fn hex_of(d: &str) -> Result<&str, ImageError> {
    let bad = |reason: &str| ImageError::InvalidDigest {
        input: d.to_string(),
        reason: reason.to_string(),
    };
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| bad("expected ALGORITHM:HEX such as sha256:<64 hex digits>"))?;
    if alg != SHA256 {
        let valid_alg = alg.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && alg
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+.-_".contains(&c));
        return Err(bad(if valid_alg {
            "unsupported digest algorithm; only sha256 is supported"
        } else {
            "the algorithm name is not valid; expected sha256"
        }));
    }
    if hex.len() != 64 || !crate::reference::is_lower_hex(hex) {
        return Err(bad(
            "a sha256 digest has exactly 64 lowercase hexadecimal digits",
        ));
    }
    Ok(hex)
}

/// Wraps a reader or writer, hashing and counting every byte that passes.
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    count: u64,
}

impl<T> Hashing<T> {
    /// Start hashing around `inner`.
    pub fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes seen so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `sha256:<hex>` digest of the bytes seen, and their count, and the inner value.
    pub fn finish(self) -> (String, u64, T) {
        (
            format!("{SHA256}:{}", hex::encode(self.hasher.finalize())),
            self.count,
            self.inner,
        )
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_digests() {
        let good = sha256_digest(b"x");
        assert!(validate(&good).is_ok());
        assert!(validate("sha256:abc").is_err());
        assert!(validate(&good.to_uppercase()).is_err());
        let e = validate(&format!("sha512:{}", "a".repeat(128))).unwrap_err();
        assert!(e.to_string().contains("unsupported"), "{e}");
    }

    #[test]
    fn hashing_reader_matches() {
        let mut r = Hashing::new(&b"hello"[..]);
        io::copy(&mut r, &mut io::sink()).unwrap();
        let (d, n, _) = r.finish();
        assert_eq!(d, sha256_digest(b"hello"));
        assert_eq!(n, 5);
    }
}
