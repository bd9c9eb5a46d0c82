//! Progress on stderr for work a person waits on (`kerf simulate` over large
//! inputs): a spinner line naming the current stage and the time taken,
//! drawn by indicatif, cleared when the work ends. It appears only when
//! stderr is a terminal and only once the work has taken [`SHOW_AFTER`], so
//! scripts, pipes and quick runs see nothing, and stdout stays the result
//! alone.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before its progress line appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress line for one command's run; [`Progress::finish`] clears it.
pub struct Progress {
    bar: ProgressBar,
    /// Dropping it tells the thread waiting to show the bar that the work is
    /// over.
    done: Option<mpsc::Sender<()>>,
    shower: Option<JoinHandle<()>>,
}

impl Progress {
    /// A progress line labelled `command` (`simulate`), shown on stderr after
    /// [`SHOW_AFTER`] when stderr is a terminal; hidden otherwise.
    pub fn start(command: &'static str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        // The template is a constant: a bad one is a bug caught by the tests,
        // and the default style is a fine fallback.
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} kerf {prefix}: {msg} ({elapsed})")
        {
            bar.set_style(style);
        }
        bar.set_prefix(command);
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar,
                done: None,
                shower: None,
            };
        }
        let (done, finished) = mpsc::channel::<()>();
        let shown = bar.clone();
        let shower = std::thread::spawn(move || {
            if finished.recv_timeout(SHOW_AFTER) == Err(mpsc::RecvTimeoutError::Timeout) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        Progress {
            bar,
            done: Some(done),
            shower: Some(shower),
        }
    }

    /// Names the stage the work is in now.
    pub fn stage(&self, stage: impl std::fmt::Display) {
        self.bar.set_message(stage.to_string());
    }

    /// Runs `print` with the line taken off the terminal, so output written
    /// meanwhile (a finished step's line) is not drawn over.
    #[cfg(feature = "addon")]
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.bar.suspend(print)
    }

    /// Ends the line: nothing of it is left on the terminal.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.done.take());
        if let Some(shower) = self.shower.take() {
            // The thread only waits and sets the draw target; it does not panic.
            let _ = shower.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_command_and_the_stage() {
        let progress = Progress::start("simulate");
        progress.stage(kerf_sim::Phase::Planning { pods: 1, pools: 2 });
        assert_eq!(progress.bar.prefix(), "simulate");
        assert_eq!(
            progress.bar.message(),
            "planning nodes for 1 pending pod across 2 pools"
        );
        progress.finish();
    }
}
