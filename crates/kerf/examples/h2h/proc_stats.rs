//! A controller's peak resident memory (VmHWM of /proc/<pid>/status, the
//! kernel's high-water mark, sampled so the last reading survives an early
//! exit) and its CPU time (utime + stime of /proc/<pid>/stat).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What one reading of /proc says about a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcStats {
    pub peak_rss_kib: u64,
    pub cpu_seconds: f64,
}

fn field_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Reads the figures of `pid` now.
pub fn read(pid: u32) -> anyhow::Result<ProcStats> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| anyhow::anyhow!("read /proc/{pid}/status: {e}"))?;
    let peak_rss_kib = field_kib(&status, "VmHWM:")
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/status has no VmHWM"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| anyhow::anyhow!("read /proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may hold spaces) start at field 3,
    // the state; utime and stime are fields 14 and 15.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/stat: no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v as f64)
            .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/stat: field {} unreadable", i + 3))
    };
    let cpu_seconds = (ticks(11)? + ticks(12)?) / clock_ticks();
    Ok(ProcStats {
        peak_rss_kib,
        cpu_seconds,
    })
}

/// Samples `pid` every `every` until dropped; [`Sampler::last`] is the latest
/// reading (VmHWM only grows, CPU time only grows).
pub struct Sampler {
    last: Arc<Mutex<ProcStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let last = Arc::new(Mutex::new(ProcStats::default()));
        let shared = last.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(now) = read(pid) {
                    *shared.lock().unwrap_or_else(PoisonError::into_inner) = now;
                }
                tokio::time::sleep(every).await;
            }
        });
        Sampler { last, task }
    }

    /// A fresh reading when the process is still there, else the last sample.
    pub fn last(&self, pid: u32) -> ProcStats {
        let sampled = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match read(pid) {
            Ok(now) => ProcStats {
                peak_rss_kib: now.peak_rss_kib.max(sampled.peak_rss_kib),
                cpu_seconds: now.cpu_seconds.max(sampled.cpu_seconds),
            },
            Err(_) => sampled,
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}
