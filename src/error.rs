//! The library's one error type, split by who must act: the user (bad input, bad query, wrong
//! index), the operator's machine (I/O), or us (internal invariants and engine failures).

use std::fmt;
use std::path::PathBuf;

/// Where in an input file a problem sits: a line for line-oriented formats, a JSON pointer-like
/// path (`role-profiles[3].title`) for tree formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    Path(String),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(line) => write!(f, "line {line}"),
            Position::Path(path) => f.write_str(path),
        }
    }
}

/// One bad record in an input file: file, position, field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    pub position: Position,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.position)?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- the user must act: input, query, configuration, index choice ---
    #[error("invalid input: {0}")]
    Input(InputError),

    #[error("invalid request: {0}")]
    InvalidRequest(String),

    #[error("invalid configuration: {0}")]
    Config(String),

    #[error("not found: {0}")]
    NotFound(String),

    #[error("no index at {path}: {reason}. Build one with `occusearch index --data DIR --index {path}`")]
    NoIndex { path: PathBuf, reason: String },

    #[error("the index at {path} cannot be opened by this build: {reason}. Rebuild it with `occusearch index`")]
    IncompatibleIndex { path: PathBuf, reason: String },

    #[error("embedding model unavailable: {0}")]
    Model(String),

    /// A part of the service cannot answer now (no index loaded yet, no vectors for this request).
    #[error("unavailable: {0}")]
    Unavailable(String),

    /// Work stopped at its deadline (a request's time limit); nothing was half-written.
    #[error("stopped at the time limit: {0}")]
    Timeout(String),

    // --- the machine: files and directories ---
    /// The cause is part of the message and not also exposed as `source()`: error chains printed
    /// with `{:#}` would repeat it ("unexpected end of file: unexpected end of file").
    #[error("{action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },

    // --- us: engine failures and broken invariants ---
    #[error("text index failure: {0}")]
    TextIndex(String),

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }

    /// True when the person running the command can fix the cause (bad input or arguments).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Input(_)
                | Error::InvalidRequest(_)
                | Error::Config(_)
                | Error::NotFound(_)
                | Error::NoIndex { .. }
                | Error::IncompatibleIndex { .. }
                | Error::Model(_)
        )
    }
}

impl From<tantivy::TantivyError> for Error {
    fn from(error: tantivy::TantivyError) -> Self {
        Error::TextIndex(error.to_string())
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for Error {
    fn from(error: tantivy::directory::error::OpenDirectoryError) -> Self {
        Error::TextIndex(error.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_names_file_line_and_field() {
        let error = InputError {
            file: PathBuf::from("data/occupations_en.csv"),
            position: Position::Line(12),
            field: Some("conceptUri".into()),
            message: "empty".into(),
        };
        assert_eq!(
            error.to_string(),
            "data/occupations_en.csv:line 12: field `conceptUri`: empty"
        );
        assert!(Error::Input(error).is_user_error());
    }
}
