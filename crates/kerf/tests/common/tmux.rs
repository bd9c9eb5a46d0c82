//! A real terminal for tests of what kerf draws on one (`kerf top`, progress
//! lines): a tmux server of the test's own, read back with capture-pane.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const TMUX: &str = "/usr/bin/tmux";

/// A tmux server of the test's own, killed on drop whatever happens.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a 200x50 terminal, on a
    /// server named after `name` and this process.
    pub fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        let ok = tmux
            .cmd(&["new-session", "-d", "-x", "200", "-y", "50", command])
            .status()
            .expect("run tmux (/usr/bin/tmux)")
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(TMUX);
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    /// The visible screen, as text.
    pub fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &str) {
        assert!(
            self.cmd(&["send-keys", keys])
                .status()
                .expect("tmux send-keys")
                .success(),
            "tmux send-keys"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The server is gone already when the command exited and took the session.
        let _ = self
            .cmd(&["kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `s` quoted for a POSIX shell line.
pub fn shell_quote(s: impl AsRef<OsStr>) -> String {
    format!("'{}'", s.as_ref().to_string_lossy().replace('\'', r"'\''"))
}

/// `cmd` (program, arguments and environment changes) as one shell line.
pub fn command_line(cmd: &Command) -> String {
    // env takes its options (the removals) before the first assignment.
    let mut line = vec!["env".to_string()];
    for (key, _) in cmd.get_envs().filter(|(_, v)| v.is_none()) {
        line.push(format!("-u {}", shell_quote(key)));
    }
    for (key, value) in cmd.get_envs() {
        if let Some(v) = value {
            line.push(shell_quote(format!(
                "{}={}",
                key.to_string_lossy(),
                v.to_string_lossy()
            )));
        }
    }
    line.push(shell_quote(cmd.get_program()));
    line.extend(cmd.get_args().map(shell_quote));
    line.join(" ")
}

/// A command run as a person runs it in a terminal: stderr on the terminal,
/// stdout to a file, the exit status written once it ends.
pub struct TerminalRun {
    pub tmux: Tmux,
    stdout: PathBuf,
    exit: PathBuf,
}

impl TerminalRun {
    /// Runs the shell line `command` in a new terminal; its files go in `dir`.
    pub fn start(name: &str, dir: &Path, command: &str) -> TerminalRun {
        let stdout = dir.join(format!("{name}.stdout"));
        let exit = dir.join(format!("{name}.exit"));
        let partial = dir.join(format!("{name}.exit.tmp"));
        // The status is renamed into place so it is never read half written;
        // the sleep keeps the screen for the test to read after the exit.
        let line = format!(
            "{command} > {}; echo $? > {} && mv {} {}; sleep 600",
            shell_quote(&stdout),
            shell_quote(&partial),
            shell_quote(&partial),
            shell_quote(&exit),
        );
        TerminalRun {
            tmux: Tmux::start(name, &line),
            stdout,
            exit,
        }
    }

    /// The exit status once the command has ended.
    pub fn exit_status(&self) -> Option<String> {
        std::fs::read_to_string(&self.exit)
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// What the command wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}
