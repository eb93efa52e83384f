//! Reading the text of the files a project names (Compose files, included
//! files, env and label files): UTF-8 only, with the line, column and byte
//! offset of the first byte that is not; a directory is said to be one.
//!
//! Errors from here never quote the file's contents: a mistaken path may name
//! a file the user did not write (`/etc/shadow`).

use std::path::Path;

/// Why a file's text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is a directory, not a file")]
    Directory,
    #[error("the file is not UTF-8 text: the byte at offset {offset} (line {line}, column {column}) is not valid UTF-8; save the file as UTF-8")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: u32,
        /// 1-based column (in characters) of the first invalid byte.
        column: u32,
        /// 0-based byte offset of the first invalid byte.
        offset: usize,
    },
}

impl TextError {
    /// The line and column of an encoding error, for a location.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            TextError::NotUtf8 { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    /// The file is missing (which some callers allow).
    pub fn is_not_found(&self) -> bool {
        matches!(self, TextError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The text of the file at `path`.
pub fn read_text(path: &Path) -> Result<String, TextError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(TextError::Directory);
    }
    utf8(std::fs::read(path)?)
}

/// `bytes` as text, or where the first invalid byte is.
pub fn utf8(bytes: Vec<u8>) -> Result<String, TextError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let good = &e.as_bytes()[..offset];
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        // The prefix is valid UTF-8, so counting characters is exact.
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        TextError::NotUtf8 {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_of_the_first_bad_byte() {
        let e = utf8(b"a: 1\nb: \xc3\xa9\xff\n".to_vec()).unwrap_err();
        assert!(matches!(
            e,
            TextError::NotUtf8 {
                line: 2,
                column: 5,
                offset: 10
            }
        ));
        assert_eq!(utf8(b"ok".to_vec()).unwrap(), "ok");
    }

    #[test]
    fn a_directory_says_so() {
        let dir = std::env::temp_dir();
        assert!(matches!(read_text(&dir), Err(TextError::Directory)));
    }
}
