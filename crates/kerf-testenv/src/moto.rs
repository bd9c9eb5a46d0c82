//! moto's server, the AWS API emulator the AWS tests talk to through the real
//! SDK clients: one per test on a free loopback port, its output in a log file,
//! stopped (process group and all) when dropped, like the control plane's
//! processes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::LoopbackServer;

/// Path of the `moto_server` binary, overriding the default location.
pub const ENV_MOTO_SERVER: &str = "KERF_MOTO_SERVER";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `$KERF_MOTO_SERVER`, else the venv `scripts/python-tools.sh` installs into
/// (`$KERF_CACHE_DIR/venv`, by default `$HOME/.cache/kerf/venv`).
pub fn moto_server_path() -> Result<PathBuf> {
    if let Some(path) = crate::binaries::non_empty_env(ENV_MOTO_SERVER) {
        return Ok(path);
    }
    let cache = match crate::binaries::non_empty_env("KERF_CACHE_DIR") {
        Some(dir) => dir,
        None => crate::binaries::non_empty_env("HOME")
            .ok_or_else(|| Error::Locate(format!("neither {ENV_MOTO_SERVER} nor HOME is set")))?
            .join(".cache/kerf"),
    };
    Ok(cache.join("venv/bin/moto_server"))
}

/// A running `moto_server`.
pub struct MotoServer {
    endpoint: String,
    _server: LoopbackServer,
}

impl MotoServer {
    /// Starts moto and waits until it accepts connections. A missing binary is
    /// an error naming the install script, never a skip.
    pub fn start() -> Result<MotoServer> {
        MotoServer::start_binary(moto_server_path()?)
    }

    /// [`MotoServer::start`] with the binary at `bin`.
    pub fn start_binary(bin: PathBuf) -> Result<MotoServer> {
        MotoServer::start_binary_with_env(bin, &[])
    }

    /// [`MotoServer::start`] with AWS's managed policies (AmazonEKSWorkerNodePolicy, ...)
    /// loaded into moto's IAM, which knows none of them otherwise; only moto's
    /// environment turns this on (its config API does not take it).
    pub fn with_managed_policies() -> Result<MotoServer> {
        MotoServer::start_with_env(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")])
    }

    /// [`MotoServer::start`] with extra environment for moto, e.g.
    /// `INITIAL_NO_AUTH_ACTION_COUNT` (see [`MotoServer::with_managed_policies`]
    /// for the managed policies).
    pub fn start_with_env(env: &[(&str, &str)]) -> Result<MotoServer> {
        MotoServer::start_binary_with_env(moto_server_path()?, env)
    }

    fn start_binary_with_env(bin: PathBuf, env: &[(&str, &str)]) -> Result<MotoServer> {
        if !bin.is_file() {
            return Err(Error::MissingMoto { path: bin });
        }
        let server = LoopbackServer::start(
            "moto_server",
            |port| {
                let mut cmd = Command::new(&bin);
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                cmd.envs(env.iter().copied());
                cmd
            },
            START_TIMEOUT,
        )?;
        Ok(MotoServer {
            endpoint: format!("http://127.0.0.1:{}", server.port()),
            _server: server,
        })
    }

    /// `http://127.0.0.1:<port>`, for the SDK clients' endpoint override.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_is_an_error_naming_the_install_script() {
        let missing = PathBuf::from("/nonexistent/venv/bin/moto_server");
        let err = MotoServer::start_binary(missing)
            .err()
            .expect("no such binary");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/venv/bin/moto_server"), "{text}");
        assert!(text.contains("scripts/python-tools.sh"), "{text}");
    }
}
