//! Simulator errors. Input errors name the file, the document (1-based, in
//! file order) and, when known, the object and the field.

use std::fmt;
use std::path::PathBuf;

/// Where in the input a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based document index within the file.
    pub document: usize,
    /// In a `kind: List` document (a `kubectl get -o yaml` dump): the
    /// list's `kind` and the 0-based index of the item.
    pub item: Option<(String, usize)>,
    /// `Kind "name"` when the document got far enough to have them.
    pub object: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.file.display(), self.document)?;
        if let Some((list, index)) = &self.item {
            write!(f, ", {list} item {index}")?;
        }
        if let Some(o) = &self.object {
            write!(f, " ({o})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A path given on the command line cannot be read.
    #[error("{path}: {message}")]
    Path { path: PathBuf, message: String },
    /// A document is malformed, of an unknown kind, or invalid.
    #[error("{at}: {message}")]
    Input { at: Location, message: String },
    /// The loaded objects do not fit together (e.g. a NodePool without its EC2NodeClass).
    #[error("{0}")]
    Inconsistent(String),
    /// The instance catalogue cannot be loaded.
    #[error("catalogue: {0}")]
    Catalog(String),
    /// Provisioning failed (the cloud refused a request, ...).
    #[error("{0}")]
    Provision(String),
}

impl SimError {
    /// Process exit code: 2 for bad input, 3 for internal failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            SimError::Provision(_) => 3,
            _ => 2,
        }
    }
}
