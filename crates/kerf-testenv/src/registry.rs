//! A container registry on loopback: crane's `registry serve` (in memory),
//! for the test of kerf's image. crane is pinned in `tools/image/` and built by
//! `scripts/image-tools.sh`; `KERF_CRANE` names the binary, as
//! `scripts/test.sh` sets it, else that script is run to find (or build) it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::LoopbackServer;

/// Environment variable naming the crane binary.
pub const ENV_CRANE: &str = "KERF_CRANE";

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The crane binary: `KERF_CRANE`, else the last line `scripts/image-tools.sh` prints.
pub fn crane_path() -> Result<PathBuf> {
    if let Some(path) = crate::binaries::non_empty_env(ENV_CRANE) {
        return Ok(path);
    }
    let script = crate::binaries::repo_root().join("scripts/image-tools.sh");
    let out = Command::new(&script)
        .output()
        .map_err(|e| Error::io(format!("running {}", script.display()), e))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    match printed.lines().last().map(str::trim) {
        Some(path) if out.status.success() && Path::new(path).is_file() => Ok(path.into()),
        _ => Err(Error::Locate(format!(
            "{ENV_CRANE} is unset and {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// A running `crane registry serve` on a free loopback port, stopped on drop.
pub struct ContainerRegistry {
    address: String,
    crane: PathBuf,
    _server: LoopbackServer,
}

impl ContainerRegistry {
    /// Starts the registry and waits until it listens.
    pub fn start() -> Result<ContainerRegistry> {
        let crane = crane_path()?;
        let server = LoopbackServer::start(
            "crane registry",
            |port| {
                let mut cmd = Command::new(&crane);
                cmd.args([
                    "registry",
                    "serve",
                    "--address",
                    &format!("127.0.0.1:{port}"),
                ]);
                cmd
            },
            START_TIMEOUT,
        )?;
        Ok(ContainerRegistry {
            address: format!("127.0.0.1:{}", server.port()),
            crane,
            _server: server,
        })
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference (plain HTTP).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The crane binary that serves it, to push and read images with.
    pub fn crane(&self) -> &Path {
        &self.crane
    }
}
