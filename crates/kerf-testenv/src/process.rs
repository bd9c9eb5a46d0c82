//! Child processes of a control plane.
//!
//! Every process runs in its own process group with stdout and stderr appended
//! to a log file. Processes are spawned from a dedicated thread that lives as
//! long as the control plane, with `PR_SET_PDEATHSIG = SIGKILL`: if the test
//! binary dies without running destructors (Ctrl-C, SIGKILL, abort), the kernel
//! kills the children instead of leaving etcd and kube-apiserver running.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns children from one long-lived thread (the "parent" that
/// `PR_SET_PDEATHSIG` refers to is the spawning thread, not the process).
pub(crate) struct Spawner {
    tx: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    pub(crate) fn new() -> Result<Self> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new()
            .name("kerf-testenv-spawner".into())
            .spawn(move || {
                while let Ok((mut cmd, reply)) = rx.recv() {
                    // The receiver only goes away if the caller gave up.
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map_err(|e| Error::io("starting the process spawner thread", e))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let gone = || std::io::Error::other("process spawner thread is gone");
        let (reply_tx, reply_rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send((cmd, reply_tx))
            .map_err(|_| gone())?;
        reply_rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running child process with its log file.
pub(crate) struct ManagedProcess {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    exit: Option<ExitStatus>,
}

impl ManagedProcess {
    /// Spawns `cmd` as `name`, appending its output to `log` after a header
    /// line with the command line.
    pub(crate) fn spawn(
        spawner: &Spawner,
        name: &str,
        mut cmd: Command,
        log: &Path,
    ) -> Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
        let header = format!("==== {:?}\n", cmd);
        file.write_all(header.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", log.display()), e))?;
        let stderr = file
            .try_clone()
            .map_err(|e| Error::io(format!("duplicating {}", log.display()), e))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .process_group(0);
        let parent = std::process::id();
        // SAFETY: the closure runs between fork and exec and only calls
        // async-signal-safe functions (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = spawner
            .spawn(cmd)
            .map_err(|e| Error::io(format!("spawning {name}"), e))?;
        Ok(Self {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
            exit: None,
        })
    }

    /// The exit status if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// The last `lines` lines of the log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// A [`Error::Process`] for this process with the tail of its log.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Process {
            name: self.name.clone(),
            reason: reason.into(),
            log: self.log.clone(),
            log_tail: self.log_tail(40),
        }
    }

    fn signal(&mut self, sig: libc::c_int) {
        if self.exited().is_some() {
            return;
        }
        if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: plain syscall; the negative pid addresses the process
            // group we created for this child (process_group(0)), and the
            // child has not been reaped yet so the id cannot be reused.
            unsafe {
                libc::kill(-pgid, sig);
            }
        }
    }
}

/// Waits until `proc` accepts TCP connections on loopback `port`; an error
/// with its log's tail if it exits first or `timeout` passes.
pub(crate) fn wait_listening(
    proc: &mut ManagedProcess,
    port: u16,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = proc.exited() {
            return Err(proc.error(format!("exited with {status} before listening")));
        }
        if Instant::now() > deadline {
            return Err(proc.error(format!("not listening on port {port} after {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// One server process on a free loopback port (moto, a container registry),
/// with its own temporary directory for the log; stopped when dropped.
pub(crate) struct LoopbackServer {
    port: u16,
    proc: ManagedProcess,
    _spawner: Spawner,
    _dir: tempfile::TempDir,
}

impl LoopbackServer {
    /// Runs the command `command(port)` builds, as `name`, and waits up to
    /// `timeout` until it listens on `port`.
    pub(crate) fn start(
        name: &str,
        command: impl FnOnce(u16) -> Command,
        timeout: Duration,
    ) -> Result<LoopbackServer> {
        let file_name = name.replace(' ', "-");
        let dir = tempfile::Builder::new()
            .prefix(&format!("kerf-{file_name}-"))
            .tempdir()
            .map_err(|e| Error::io(format!("creating {name}'s temporary directory"), e))?;
        let port = crate::free_port()?;
        let spawner = Spawner::new()?;
        let log = dir.path().join(format!("{file_name}.log"));
        let proc = ManagedProcess::spawn(&spawner, name, command(port), &log)?;
        let mut server = LoopbackServer {
            port,
            proc,
            _spawner: spawner,
            _dir: dir,
        };
        wait_listening(&mut server.proc, port, timeout)?;
        Ok(server)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        terminate_all(std::slice::from_mut(&mut self.proc), Duration::from_secs(2));
    }
}

/// Stops `procs`: SIGTERM to every process group, wait up to `grace`, then
/// SIGKILL whatever is left and reap everything.
pub(crate) fn terminate_all(procs: &mut [ManagedProcess], grace: Duration) {
    for p in procs.iter_mut().rev() {
        p.signal(libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && procs.iter_mut().any(|p| p.exited().is_none()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in procs.iter_mut() {
        if p.exited().is_none() {
            p.signal(libc::SIGKILL);
            let _ = p.child.wait();
        }
    }
}

/// The last `lines` lines of the file at `path` (reads at most the last 64 KiB).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let read = || -> std::io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Runs a blocking call (a kubectl or helm child, waited for) without
/// starving the tokio runtime it may be called from: tests run servers (the
/// webhook, the controller) on the same runtime that must answer meanwhile.
/// On a multi-thread runtime the worker hands its other tasks on; elsewhere
/// (no runtime, or a current-thread one, where that is impossible) it just runs.
pub(crate) fn blocking<T>(call: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}
