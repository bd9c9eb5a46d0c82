//! Locating the upstream binaries built by `scripts/testbed-build.sh`.
//!
//! Lookup order:
//! 1. `KERF_TESTBED_BIN`: a directory holding the binaries;
//! 2. `KERF_TESTBED_DIR`: the cache directory, binaries in its `bin/`;
//! 3. `$HOME/.cache/kerf/testbed/<key>/bin`, where `<key>` is computed from the
//!    files of `tools/testbed/` and the build script exactly like the script
//!    does (see [`testbed_key`]).

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Environment variable naming a directory that holds the binaries directly.
pub const ENV_BIN: &str = "KERF_TESTBED_BIN";
/// Environment variable naming the cache directory (binaries in its `bin/`).
pub const ENV_DIR: &str = "KERF_TESTBED_DIR";

/// `etcd` binary name.
pub const ETCD: &str = "etcd";
/// `kube-apiserver` binary name.
pub const KUBE_APISERVER: &str = "kube-apiserver";
/// `kube-controller-manager` binary name.
pub const KUBE_CONTROLLER_MANAGER: &str = "kube-controller-manager";
/// `kube-scheduler` binary name.
pub const KUBE_SCHEDULER: &str = "kube-scheduler";
/// `kubectl` binary name.
pub const KUBECTL: &str = "kubectl";
/// `kwok` binary name.
pub const KWOK: &str = "kwok";
/// `helm` binary name.
pub const HELM: &str = "helm";

/// Every binary the build script produces.
pub const ALL: &[&str] = &[
    KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    KUBECTL,
    ETCD,
    KWOK,
    HELM,
];

/// Paths of the files (relative to the repository root) hashed into the cache
/// key besides everything under `tools/testbed/`.
const EXTRA_KEY_FILES: &[&str] = &["scripts/testbed-build.sh"];
const TESTBED_SRC: &str = "tools/testbed";

/// A directory holding the testbed binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Locates the binary directory from the environment or the per-machine
    /// cache (see the module docs). Does not check that binaries exist; use
    /// [`Binaries::path`] or [`Binaries::require`] for that.
    pub fn locate() -> Result<Self> {
        if let Some(dir) = non_empty_env(ENV_BIN) {
            return Ok(Self::from_dir(dir));
        }
        Ok(Self::from_dir(testbed_dir()?.join("bin")))
    }

    /// Uses `dir` as the binary directory.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The binary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of binary `name`, or [`Error::MissingBinary`] if it is not an
    /// executable file.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        if is_executable(&path) {
            Ok(path)
        } else {
            Err(Error::MissingBinary {
                name: name.to_string(),
                path,
            })
        }
    }

    /// Checks that all `names` exist, reporting the first missing one.
    pub fn require(&self, names: &[&str]) -> Result<()> {
        names.iter().try_for_each(|name| self.path(name).map(drop))
    }
}

pub(crate) fn non_empty_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The repository root this crate was compiled from.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The testbed cache directory: `$KERF_TESTBED_DIR`, else
/// `$HOME/.cache/kerf/testbed/<key>`.
pub fn testbed_dir() -> Result<PathBuf> {
    if let Some(dir) = non_empty_env(ENV_DIR) {
        return Ok(dir);
    }
    let home = non_empty_env("HOME")
        .ok_or_else(|| Error::Locate(format!("neither {ENV_BIN}, {ENV_DIR} nor HOME is set")))?;
    let key = testbed_key(&repo_root()).map_err(|e| {
        Error::Locate(format!(
            "cannot hash {TESTBED_SRC}/ under {} ({e}); set {ENV_BIN} to the directory \
             holding the binaries",
            repo_root().display()
        ))
    })?;
    Ok(home.join(".cache/kerf/testbed").join(key))
}

/// The cache key of the testbed build: the first 16 hex digits of the sha256
/// of the `sha256sum`-style listing (`"<hex>  <path>\n"`, paths relative to
/// the repository root, sorted bytewise) of every regular file under
/// `tools/testbed/` plus `scripts/testbed-build.sh`.
///
/// Must stay identical to `testbed_key` in `scripts/testbed-build.sh`.
pub fn testbed_key(repo_root: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect_files(repo_root, Path::new(TESTBED_SRC), &mut files)?;
    files.extend(EXTRA_KEY_FILES.iter().map(|f| f.to_string()));
    files.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    let mut listing = Sha256::new();
    for rel in &files {
        let content = fs::read(repo_root.join(rel))?;
        listing.update(hex(&Sha256::digest(&content)));
        listing.update("  ");
        listing.update(rel);
        listing.update("\n");
    }
    let mut key = hex(&listing.finalize());
    key.truncate(16);
    Ok(key)
}

/// Recursively lists regular files (not following symlinks, like `find -type f`).
fn collect_files(root: &Path, rel: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let child = rel.join(entry.file_name());
        if file_type.is_dir() {
            collect_files(root, &child, out)?;
        } else if file_type.is_file() {
            let s = child.to_str().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("non UTF-8 path {}", child.display()),
                )
            })?;
            out.push(s.to_string());
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_names_binary_and_script() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Binaries::from_dir(dir.path())
            .path(KWOK)
            .expect_err("kwok is not in an empty dir");
        let msg = err.to_string();
        assert!(msg.contains("`kwok`"), "{msg}");
        assert!(msg.contains("run scripts/testbed-build.sh"), "{msg}");
    }

    #[test]
    fn key_matches_build_script() {
        let root = repo_root();
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/testbed-build.sh"))
            .arg("--print")
            .env_remove(ENV_DIR)
            .env("HOME", "/nonexistent-home")
            .output()
            .expect("run scripts/testbed-build.sh --print");
        assert!(out.status.success(), "{out:?}");
        let printed = String::from_utf8(out.stdout).expect("utf-8");
        let key = testbed_key(&root).expect("hash tools/testbed");
        assert_eq!(
            printed.trim_end(),
            format!("/nonexistent-home/.cache/kerf/testbed/{key}/bin")
        );
    }
}
