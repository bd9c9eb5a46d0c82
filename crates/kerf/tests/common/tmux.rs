//! A real terminal for tests of what kerf draws on one (`kerf top`, progress
//! lines): a tmux server of the test's own, read back with capture-pane.

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
