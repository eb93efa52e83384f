//! The template's errors, each placed at a line and column of the template.

/// A template that cannot be parsed or executed. `line` and `column` are
/// 1-based and count characters; `message` says what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("template:{line}:{column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("template:{line}:{column}: executing: {message}")]
    Exec {
        line: usize,
        column: usize,
        message: String,
    },
}

impl Error {
    pub fn line(&self) -> usize {
        match self {
            Error::Parse { line, .. } | Error::Exec { line, .. } => *line,
        }
    }

    pub fn column(&self) -> usize {
        match self {
            Error::Parse { column, .. } | Error::Exec { column, .. } => *column,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::Parse { message, .. } | Error::Exec { message, .. } => message,
        }
    }
}

/// An error found at a byte offset, before the offset is turned into a line
/// and column.
#[derive(Debug)]
pub(crate) struct Located {
    pub offset: usize,
    pub message: String,
    pub during_exec: bool,
}

impl Located {
    pub fn parse(offset: usize, message: impl Into<String>) -> Located {
        Located {
            offset,
            message: message.into(),
            during_exec: false,
        }
    }

    pub fn exec(offset: usize, message: impl Into<String>) -> Located {
        Located {
            offset,
            message: message.into(),
            during_exec: true,
        }
    }

    pub fn locate(self, source: &str) -> Error {
        let offset = self.offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        if self.during_exec {
            Error::Exec {
                line,
                column,
                message: self.message,
            }
        } else {
            Error::Parse {
                line,
                column,
                message: self.message,
            }
        }
    }
}
