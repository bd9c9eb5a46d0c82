//! [`ControlPlane`]: etcd + kube-apiserver (+ optional kube-controller-manager,
//! kube-scheduler and kwok) running as child processes of the test.

use std::ffi::OsStr;
use std::fs;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::binaries::{
    Binaries, ETCD, KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KUBECTL, KWOK,
};
use crate::error::{Error, Result};
use crate::net::{free_ports, http_get};
use crate::process::{ManagedProcess, Spawner, terminate_all};
use crate::{certs, kube_util};

/// The service CIDR given to kube-apiserver (virtual IPs only: nothing listens
/// or routes there).
pub const SERVICE_CIDR: &str = "10.0.0.0/24";
const SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

/// Set this environment variable (to anything non-empty) to keep a control
/// plane's directory (logs, kubeconfig, certificates) after it is dropped.
pub const ENV_KEEP_DIR: &str = "KERF_TESTENV_KEEP_DIR";

/// The kwok Stage configuration (kwok's "fast" stage set and kerf's
/// pod-ready-again, see the file).
const KWOK_STAGES: &str = include_str!("../kwok/stages-fast.yaml");

/// Prefix of control plane directories in the temp directory.
const DIR_PREFIX: &str = "kerf-testenv-";
/// File in a control plane directory holding the owning test process' pid.
const OWNER_FILE: &str = "owner.pid";

/// Attempts per component when its port turned out to be taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Controllers enabled in kube-controller-manager by default: workloads
/// (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs), namespace
/// deletion, garbage collection, node lifecycle and taint eviction, service
/// accounts and their tokens, pod GC, endpoints, quota, disruption budgets,
/// and persistent volume binding. Cloud, IPAM, CSR-signing and bootstrap
/// controllers are left out.
pub const DEFAULT_CONTROLLERS: &[&str] = &[
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "node-lifecycle-controller",
    "taint-eviction-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "pod-garbage-collector-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "resourcequota-controller",
    "disruption-controller",
    "clusterrole-aggregation-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller",
];

/// Which Nodes kwok manages (pretends to be the kubelet of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KwokNodes {
    /// Every Node (`--manage-all-nodes=true`).
    All,
    /// Nodes whose annotations match this selector, e.g.
    /// `kwok.x-k8s.io/node=fake` (`--manage-nodes-with-annotation-selector`).
    WithAnnotation(String),
    /// Nodes whose labels match this selector
    /// (`--manage-nodes-with-label-selector`).
    WithLabel(String),
}

/// What to start and how. `ControlPlaneOptions::default()` starts etcd and
/// kube-apiserver only; [`ControlPlaneOptions::cluster`] adds
/// kube-controller-manager, kube-scheduler and kwok.
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Start kube-controller-manager with [`Self::controllers`].
    pub controller_manager: bool,
    /// Start kube-scheduler.
    pub scheduler: bool,
    /// Start kwok (fake kubelets for the Nodes selected by [`Self::kwok_nodes`]).
    pub kwok: bool,
    /// Nodes managed by kwok.
    pub kwok_nodes: KwokNodes,
    /// `--controllers` of kube-controller-manager.
    pub controllers: Vec<String>,
    /// Extra kube-apiserver flags (appended; later flags win).
    pub apiserver_args: Vec<String>,
    /// Extra kube-controller-manager flags.
    pub controller_manager_args: Vec<String>,
    /// Extra kube-scheduler flags.
    pub scheduler_args: Vec<String>,
    /// Extra kwok flags.
    pub kwok_args: Vec<String>,
    /// How long each component may take to become healthy.
    pub startup_timeout: Duration,
    /// How long processes get between SIGTERM and SIGKILL on drop.
    pub shutdown_grace: Duration,
    /// Where the binaries are; `None` means [`Binaries::locate`].
    pub binaries: Option<Binaries>,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            controller_manager: false,
            scheduler: false,
            kwok: false,
            kwok_nodes: KwokNodes::All,
            controllers: DEFAULT_CONTROLLERS.iter().map(|c| c.to_string()).collect(),
            apiserver_args: Vec::new(),
            controller_manager_args: Vec::new(),
            scheduler_args: Vec::new(),
            kwok_args: Vec::new(),
            startup_timeout: Duration::from_secs(90),
            shutdown_grace: Duration::from_secs(3),
            binaries: None,
        }
    }
}

impl ControlPlaneOptions {
    /// etcd + kube-apiserver only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A working "cluster": also kube-controller-manager, kube-scheduler and
    /// kwok managing all Nodes.
    pub fn cluster() -> Self {
        Self::default()
            .with_controller_manager()
            .with_scheduler()
            .with_kwok()
    }

    /// Also start kube-controller-manager.
    pub fn with_controller_manager(mut self) -> Self {
        self.controller_manager = true;
        self
    }

    /// Also start kube-scheduler.
    pub fn with_scheduler(mut self) -> Self {
        self.scheduler = true;
        self
    }

    /// Also start kwok.
    pub fn with_kwok(mut self) -> Self {
        self.kwok = true;
        self
    }

    /// Select the Nodes kwok manages.
    pub fn with_kwok_nodes(mut self, nodes: KwokNodes) -> Self {
        self.kwok_nodes = nodes;
        self
    }

    /// Use the binaries in `binaries` instead of locating them.
    pub fn with_binaries(mut self, binaries: Binaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    fn required_binaries(&self) -> Vec<&'static str> {
        let mut names = vec![ETCD, KUBE_APISERVER, KUBECTL];
        if self.controller_manager {
            names.push(KUBE_CONTROLLER_MANAGER);
        }
        if self.scheduler {
            names.push(KUBE_SCHEDULER);
        }
        if self.kwok {
            names.push(KWOK);
        }
        names
    }
}

/// A running control plane, private to one test. Dropping it stops every
/// process (SIGTERM, then SIGKILL after [`ControlPlaneOptions::shutdown_grace`],
/// whole process groups) and removes its directory, also when the test
/// panics; in that case the tail of every log is printed to stderr first
/// (the test harness shows it with the failure).
pub struct ControlPlane {
    processes: Vec<ManagedProcess>,
    spawner: Spawner,
    binaries: Binaries,
    paths: Paths,
    server_url: String,
    etcd_url: String,
    client: Option<Client>,
    config: Option<kube::Config>,
    timings: Vec<(String, Duration)>,
    started_in: Duration,
    shutdown_grace: Duration,
    runtime: Option<tokio::runtime::Runtime>,
    dir: Option<tempfile::TempDir>,
    /// How the API server was started, to start it again on the same port.
    apiserver: Option<(ControlPlaneOptions, u16)>,
}

/// Files and directories inside a control plane's temporary directory.
#[derive(Debug, Clone)]
struct Paths {
    root: PathBuf,
    logs: PathBuf,
    kubeconfig: PathBuf,
    ca_cert: PathBuf,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    admin_cert: PathBuf,
    admin_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
}

impl Paths {
    fn new(root: &Path) -> Self {
        let pki = root.join("pki");
        Self {
            root: root.to_path_buf(),
            logs: root.join("logs"),
            kubeconfig: root.join("kubeconfig"),
            ca_cert: pki.join("ca.crt"),
            serving_cert: pki.join("apiserver.crt"),
            serving_key: pki.join("apiserver.key"),
            admin_cert: pki.join("admin.crt"),
            admin_key: pki.join("admin.key"),
            sa_key: pki.join("sa.key"),
            sa_pub: pki.join("sa.pub"),
        }
    }
}

/// How a freshly started process is known to be ready.
enum Probe {
    /// Plain HTTP GET on 127.0.0.1 answering 200 with `expect` in the body.
    Http {
        port: u16,
        path: &'static str,
        expect: &'static str,
    },
    /// HTTPS GET on 127.0.0.1 (self-signed certificate accepted) answering 200.
    Https { port: u16, path: &'static str },
    /// GET `path` through a client built from this kubeconfig answering 200.
    Kubeconfig {
        kubeconfig: PathBuf,
        path: &'static str,
    },
}

fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

fn flag(name: &str, value: impl AsRef<OsStr>) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(format!("--{name}="));
    s.push(value.as_ref());
    s
}

impl ControlPlane {
    /// Starts a control plane as described by `opts` and waits until every
    /// component is healthy.
    ///
    /// Measured on the 2-core development machine: etcd + kube-apiserver in
    /// about 6.5-8.5 s, the full [`ControlPlaneOptions::cluster`] in about
    /// 7-8 s (the tests print [`Self::startup_timings`] with `--nocapture`).
    pub async fn start(opts: ControlPlaneOptions) -> Result<Self> {
        let t0 = Instant::now();
        let binaries = match &opts.binaries {
            Some(b) => b.clone(),
            None => Binaries::locate()?,
        };
        binaries.require(&opts.required_binaries())?;

        remove_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(|e| Error::io("creating the control plane directory", e))?;
        write_file(&dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        let paths = Paths::new(dir.path());
        create_dir(&paths.logs)?;
        create_dir(&paths.root.join("pki"))?;

        let pki = certs::generate(SERVICE_IP)?;
        write_file(&paths.ca_cert, &pki.ca_cert)?;
        write_file(&paths.serving_cert, &pki.serving_cert)?;
        write_file(&paths.serving_key, &pki.serving_key)?;
        write_file(&paths.admin_cert, &pki.admin_cert)?;
        write_file(&paths.admin_key, &pki.admin_key)?;
        write_file(&paths.sa_key, &pki.sa_key)?;
        write_file(&paths.sa_pub, &pki.sa_pub)?;

        // Built first so that an error below drops (and cleans up) everything.
        let mut plane = ControlPlane {
            processes: Vec::new(),
            spawner: Spawner::new()?,
            binaries,
            paths,
            server_url: String::new(),
            etcd_url: String::new(),
            client: None,
            config: None,
            timings: Vec::new(),
            started_in: Duration::ZERO,
            shutdown_grace: opts.shutdown_grace,
            runtime: None,
            dir: Some(dir),
            apiserver: None,
        };
        plane.start_etcd(&opts).await?;
        plane.start_apiserver(&opts).await?;
        if opts.controller_manager {
            plane.start_controller_manager(&opts).await?;
        }
        if opts.scheduler {
            plane.start_scheduler(&opts).await?;
        }
        if opts.kwok {
            plane.start_kwok(&opts).await?;
        }
        plane.started_in = t0.elapsed();
        Ok(plane)
    }

    /// Like [`ControlPlane::start`] for tests without an async runtime: the
    /// control plane owns a small tokio runtime, on which [`Self::client`]
    /// runs; drive async code with [`Self::block_on`]. Must not be called from
    /// within an async context.
    pub fn start_blocking(opts: ControlPlaneOptions) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kerf-testenv")
            .enable_all()
            .build()
            .map_err(|e| Error::io("building a tokio runtime", e))?;
        let mut plane = runtime.block_on(Self::start(opts))?;
        plane.runtime = Some(runtime);
        Ok(plane)
    }

    /// Runs `fut` to completion on the runtime owned by a control plane from
    /// [`Self::start_blocking`]; [`Error::NoRuntime`] for one from
    /// [`Self::start`].
    pub fn block_on<F: Future>(&self, fut: F) -> Result<F::Output> {
        let runtime = self.runtime.as_ref().ok_or(Error::NoRuntime)?;
        Ok(runtime.block_on(fut))
    }

    /// A client authenticated as the admin (group `system:masters`). It is
    /// bound to the runtime the control plane was started on.
    pub fn client(&self) -> Client {
        match &self.client {
            Some(client) => client.clone(),
            // `start` only returns a plane after setting the client.
            None => unreachable!("a started control plane always has a client"),
        }
    }

    /// A proxy in front of this plane's API server that injects `faults`
    /// (429s and 5xx instead of answers, watches cut mid-stream); see
    /// [`crate::fault_proxy`]. Point a client at its kubeconfig.
    pub async fn fault_proxy(&self, faults: crate::Faults) -> Result<crate::FaultProxy> {
        crate::fault_proxy::start(
            self.client(),
            faults,
            &self.paths.serving_cert,
            &self.paths.serving_key,
            &self.paths.kubeconfig,
            &self.server_url,
            &self.paths.root,
        )
        .await
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.paths.kubeconfig
    }

    /// `https://127.0.0.1:<port>` of kube-apiserver.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// `http://127.0.0.1:<port>` of etcd.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The CA certificate (PEM) that signed the apiserver and admin certificates.
    pub fn ca_cert_path(&self) -> &Path {
        &self.paths.ca_cert
    }

    /// The control plane's temporary directory (removed on drop unless
    /// `KERF_TESTENV_KEEP_DIR` is set).
    pub fn dir(&self) -> &Path {
        &self.paths.root
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// Log file of each running process, in start order.
    pub fn logs(&self) -> Vec<(&str, &Path)> {
        self.processes
            .iter()
            .map(|p| (p.name.as_str(), p.log.as_path()))
            .collect()
    }

    /// Log file of process `name` (e.g. `"kube-apiserver"`).
    pub fn log_path(&self, name: &str) -> Option<&Path> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.log.as_path())
    }

    /// Wall time [`Self::start`] took.
    pub fn startup_duration(&self) -> Duration {
        self.started_in
    }

    /// Time from spawn to healthy for each component, in start order.
    pub fn startup_timings(&self) -> &[(String, Duration)] {
        &self.timings
    }

    /// Checks that no process has exited; the error names the first one that
    /// did and includes the tail of its log.
    pub fn check_alive(&mut self) -> Result<()> {
        for p in &mut self.processes {
            if let Some(status) = p.exited() {
                return Err(p.error(format!("exited unexpectedly with {status}")));
            }
        }
        Ok(())
    }

    /// Runs the built kubectl against this control plane as the admin
    /// (`--kubeconfig` and a private `--cache-dir` are prepended).
    pub fn kubectl<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let kubectl = self.binaries.path(KUBECTL)?;
        let mut command = Command::new(kubectl);
        command
            .arg(flag("kubeconfig", &self.paths.kubeconfig))
            .arg(flag("cache-dir", self.paths.root.join("kubectl-cache")))
            .args(args)
            .env_remove("KUBECONFIG");
        crate::process::blocking(|| command.output()).map_err(|e| Error::io("running kubectl", e))
    }

    /// Runs the built helm against this control plane as the admin, with its
    /// cache, config and data under the plane's directory; whether it succeeded,
    /// and its stdout and stderr together.
    pub fn helm<I, S>(&self, args: I) -> Result<(bool, String)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let helm = self.binaries.path("helm")?;
        let home = self.paths.root.join("helm");
        let mut command = Command::new(helm);
        command
            .args(args)
            .arg(flag("kubeconfig", &self.paths.kubeconfig))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("KUBECONFIG");
        let out = crate::process::blocking(|| command.output())
            .map_err(|e| Error::io("running helm", e))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Like [`Self::kubectl`], but fails with [`Error::Kubectl`] (including
    /// stderr) on a non-zero exit and returns stdout.
    pub fn kubectl_ok<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self.kubectl(&args)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::Kubectl {
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// `kubectl apply -f <manifest>` with `extra` arguments (e.g.
    /// `--dry-run=server`): whether it succeeded, and its stderr, where an
    /// admission webhook's refusal shows.
    pub fn kubectl_apply(&self, manifest: &Path, extra: &[&str]) -> Result<(bool, String)> {
        let mut args = vec![OsStr::new("apply"), OsStr::new("-f"), manifest.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        let out = self.kubectl(args)?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// [`crate::apply_yaml`] with this control plane's client.
    pub async fn apply_yaml(&self, yaml: &str) -> Result<Vec<kube::api::DynamicObject>> {
        kube_util::apply_yaml(&self.client(), yaml).await
    }

    async fn start_etcd(&mut self, opts: &ControlPlaneOptions) -> Result<()> {
        let bin = self.binaries.path(ETCD)?;
        let data = self.paths.root.join("etcd");
        let ports = self
            .launch(ETCD, 2, opts.startup_timeout, |p| {
                let (client, peer) = (p[0], p[1]);
                // A previous attempt may have initialised the data dir.
                let _ = fs::remove_dir_all(&data);
                let client_url = format!("http://127.0.0.1:{client}");
                let peer_url = format!("http://127.0.0.1:{peer}");
                let mut cmd = Command::new(&bin);
                cmd.arg("--name=default")
                    .arg(flag("data-dir", &data))
                    .arg(format!("--listen-client-urls={client_url}"))
                    .arg(format!("--advertise-client-urls={client_url}"))
                    .arg(format!("--listen-peer-urls={peer_url}"))
                    .arg(format!("--initial-advertise-peer-urls={peer_url}"))
                    .arg(format!("--initial-cluster=default={peer_url}"))
                    .arg("--initial-cluster-state=new")
                    .arg("--unsafe-no-fsync=true")
                    .arg("--log-level=warn");
                let probe = Probe::Http {
                    port: client,
                    path: "/health",
                    expect: "\"health\":\"true\"",
                };
                Ok((cmd, probe))
            })
            .await?;
        self.etcd_url = format!("http://127.0.0.1:{}", ports[0]);
        Ok(())
    }

    async fn start_apiserver(&mut self, opts: &ControlPlaneOptions) -> Result<()> {
        let bin = self.binaries.path(KUBE_APISERVER)?;
        let paths = self.paths.clone();
        let etcd_url = self.etcd_url.clone();
        let ports = self
            .launch(KUBE_APISERVER, 1, opts.startup_timeout, |p| {
                write_kubeconfig(&paths, &format!("https://127.0.0.1:{}", p[0]))?;
                Ok(apiserver_command(&bin, &paths, &etcd_url, p[0], opts))
            })
            .await?;
        self.apiserver = Some((opts.clone(), ports[0]));
        self.server_url = format!("https://127.0.0.1:{}", ports[0]);
        let config = kube_config_from(&self.paths.kubeconfig).await?;
        self.client = Some(Client::try_from(config.clone())?);
        self.config = Some(config);
        Ok(())
    }

    /// Compacts etcd's history up to its current revision and returns that
    /// revision: a watch or list resumed from an older resourceVersion is
    /// then told `410 Gone` (once the API server's watch cache no longer
    /// holds it, say after [`Self::restart_apiserver`]) and must list afresh.
    pub async fn compact_etcd(&self) -> Result<i64> {
        let port: u16 = self
            .etcd_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| Error::io("compacting etcd", std::io::Error::other("no etcd port")))?;
        let failed = |what: &str, e: String| {
            Error::io(format!("compacting etcd: {what}"), std::io::Error::other(e))
        };
        // Any range answers with the store's current revision in its header.
        let (code, body) =
            crate::net::http_post_json(port, "/v3/kv/range", r#"{"key":"AA==","limit":1}"#)
                .await
                .map_err(|e| Error::io("compacting etcd: range", e))?;
        let revision = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let r = &v["header"]["revision"];
                r.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| r.as_i64())
            })
            .ok_or_else(|| failed("range", format!("HTTP {code}: {body}")))?;
        let request = format!(r#"{{"revision":"{revision}","physical":true}}"#);
        let (code, body) = crate::net::http_post_json(port, "/v3/kv/compaction", &request)
            .await
            .map_err(|e| Error::io("compacting etcd: compaction", e))?;
        if code != 200 {
            return Err(failed("compaction", format!("HTTP {code}: {body}")));
        }
        Ok(revision)
    }

    /// Stops the API server (SIGTERM, then SIGKILL after the shutdown grace),
    /// leaves it down for `down_for`, and starts it again on the same port
    /// with the same etcd, so every client sees its connections and watches
    /// drop and must reconnect: what a control-plane upgrade does to a
    /// controller. Returns once the new API server is ready.
    pub async fn restart_apiserver(&mut self, down_for: Duration) -> Result<()> {
        let (opts, port) = self.apiserver.clone().ok_or_else(|| {
            Error::io(
                "restarting kube-apiserver",
                std::io::Error::other("it was never started"),
            )
        })?;
        let i = self
            .processes
            .iter()
            .position(|p| p.name == KUBE_APISERVER)
            .ok_or_else(|| {
                Error::io(
                    "restarting kube-apiserver",
                    std::io::Error::other("it is not running"),
                )
            })?;
        let mut old = self.processes.remove(i);
        terminate_all(std::slice::from_mut(&mut old), self.shutdown_grace);
        tokio::time::sleep(down_for).await;
        let bin = self.binaries.path(KUBE_APISERVER)?;
        let (cmd, probe) = apiserver_command(&bin, &self.paths, &self.etcd_url, port, &opts);
        let log = self.paths.logs.join(format!("{KUBE_APISERVER}.log"));
        let t0 = Instant::now();
        let mut proc = ManagedProcess::spawn(&self.spawner, KUBE_APISERVER, cmd, &log)?;
        if let Err(e) = wait_ready(&mut proc, &probe, opts.startup_timeout).await {
            terminate_all(std::slice::from_mut(&mut proc), self.shutdown_grace);
            return Err(e);
        }
        self.timings
            .push((format!("{KUBE_APISERVER} (restart)"), t0.elapsed()));
        self.processes.push(proc);
        Ok(())
    }

    async fn start_controller_manager(&mut self, opts: &ControlPlaneOptions) -> Result<()> {
        let bin = self.binaries.path(KUBE_CONTROLLER_MANAGER)?;
        let paths = self.paths.clone();
        let cert_dir = paths.root.join("controller-manager-certs");
        self.launch(KUBE_CONTROLLER_MANAGER, 1, opts.startup_timeout, |p| {
            let port = p[0];
            let mut cmd = Command::new(&bin);
            cmd.arg(flag("kubeconfig", &paths.kubeconfig))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={port}"))
                .arg(flag("cert-dir", &cert_dir))
                .arg("--leader-elect=false")
                .arg(format!("--controllers={}", opts.controllers.join(",")))
                .arg(flag("service-account-private-key-file", &paths.sa_key))
                .arg(flag("root-ca-file", &paths.ca_cert))
                .arg("--use-service-account-credentials=false")
                .arg("--profiling=false")
                .args(&opts.controller_manager_args);
            Ok((
                cmd,
                Probe::Https {
                    port,
                    path: "/healthz",
                },
            ))
        })
        .await?;
        Ok(())
    }

    async fn start_scheduler(&mut self, opts: &ControlPlaneOptions) -> Result<()> {
        let bin = self.binaries.path(KUBE_SCHEDULER)?;
        let paths = self.paths.clone();
        let cert_dir = paths.root.join("scheduler-certs");
        self.launch(KUBE_SCHEDULER, 1, opts.startup_timeout, |p| {
            let port = p[0];
            let mut cmd = Command::new(&bin);
            cmd.arg(flag("kubeconfig", &paths.kubeconfig))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={port}"))
                .arg(flag("cert-dir", &cert_dir))
                .arg("--leader-elect=false")
                .arg("--profiling=false")
                .args(&opts.scheduler_args);
            Ok((
                cmd,
                Probe::Https {
                    port,
                    path: "/healthz",
                },
            ))
        })
        .await?;
        Ok(())
    }

    async fn start_kwok(&mut self, opts: &ControlPlaneOptions) -> Result<()> {
        let bin = self.binaries.path(KWOK)?;
        let paths = self.paths.clone();
        let workdir = paths.root.join("kwok");
        create_dir(&workdir)?;
        let stages = workdir.join("stages.yaml");
        write_file(&stages, KWOK_STAGES)?;
        self.launch(KWOK, 1, opts.startup_timeout, |p| {
            let port = p[0];
            let mut cmd = Command::new(&bin);
            cmd.arg(flag("kubeconfig", &paths.kubeconfig))
                .arg(flag("config", &stages))
                .arg(format!("--server-address=127.0.0.1:{port}"))
                .arg("--node-lease-duration-seconds=40");
            match &opts.kwok_nodes {
                KwokNodes::All => cmd.arg("--manage-all-nodes=true"),
                KwokNodes::WithAnnotation(sel) => {
                    cmd.arg(format!("--manage-nodes-with-annotation-selector={sel}"))
                }
                KwokNodes::WithLabel(sel) => {
                    cmd.arg(format!("--manage-nodes-with-label-selector={sel}"))
                }
            };
            // kwok also reads ~/.kwok/kwok.yaml; keep it to its own workdir.
            cmd.env("KWOK_WORKDIR", &workdir).args(&opts.kwok_args);
            Ok((
                cmd,
                Probe::Http {
                    port,
                    path: "/healthz",
                    expect: "ok",
                },
            ))
        })
        .await?;
        Ok(())
    }

    /// Spawns a component on fresh ports until it is healthy, retrying up to
    /// [`START_ATTEMPTS`] times when another process took one of its ports.
    /// `build` gets the ports and returns the command and its readiness probe.
    async fn launch(
        &mut self,
        name: &str,
        n_ports: usize,
        timeout: Duration,
        mut build: impl FnMut(&[u16]) -> Result<(Command, Probe)>,
    ) -> Result<Vec<u16>> {
        let log = self.paths.logs.join(format!("{name}.log"));
        let mut attempt = 1;
        loop {
            let ports = free_ports(n_ports).map_err(|e| Error::io("finding free ports", e))?;
            let (cmd, probe) = build(&ports)?;
            let t0 = Instant::now();
            let mut proc = ManagedProcess::spawn(&self.spawner, name, cmd, &log)?;
            match wait_ready(&mut proc, &probe, timeout).await {
                Ok(()) => {
                    self.timings.push((name.to_string(), t0.elapsed()));
                    self.processes.push(proc);
                    return Ok(ports);
                }
                Err(err) => {
                    terminate_all(std::slice::from_mut(&mut proc), self.shutdown_grace);
                    let port_taken = proc.log_tail(100).contains("address already in use");
                    if !port_taken || attempt >= START_ATTEMPTS {
                        return Err(err);
                    }
                    // Keep the failed attempt's log aside, retry on new ports.
                    let old = self.paths.logs.join(format!("{name}.attempt{attempt}.log"));
                    fs::rename(&log, &old)
                        .map_err(|e| Error::io(format!("renaming {}", log.display()), e))?;
                    attempt += 1;
                }
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in &self.processes {
                eprintln!(
                    "---- kerf-testenv: last lines of {} ({}) ----\n{}",
                    p.name,
                    p.log.display(),
                    p.log_tail(30)
                );
            }
        }
        terminate_all(&mut self.processes, self.shutdown_grace);
        // Clients may hold connections driven by the runtime; drop them first.
        self.client = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        if std::env::var_os(ENV_KEEP_DIR).is_some_and(|v| !v.is_empty())
            && let Some(dir) = self.dir.take()
        {
            eprintln!("kerf-testenv: kept {}", dir.keep().display());
        }
        // Otherwise `self.dir` (a TempDir) removes the directory when dropped
        // after this function; the spawner thread is joined before that.
    }
}

/// Removes control plane directories left behind by test processes that were
/// killed before they could clean up (their child processes died with them,
/// see [`crate::process`]): directories named `kerf-testenv-*` in the temp
/// directory whose owner file names a process that no longer exists.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_ours {
            continue;
        }
        let owner = fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(pid) = owner
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Writes the admin kubeconfig for `server` (certificate files by path).
fn write_kubeconfig(paths: &Paths, server: &str) -> Result<()> {
    // JSON strings are valid YAML scalars and quote any path safely.
    let q = |p: &Path| serde_json::Value::String(p.to_string_lossy().into_owned()).to_string();
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kerf-testenv
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {user}
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: kerf-testenv
  context:
    cluster: kerf-testenv
    user: {user}
    namespace: default
current-context: kerf-testenv
",
        ca = q(&paths.ca_cert),
        user = certs::ADMIN_USER,
        cert = q(&paths.admin_cert),
        key = q(&paths.admin_key),
    );
    write_file(&paths.kubeconfig, kubeconfig)
}

async fn kube_config_from(kubeconfig: &Path) -> Result<kube::Config> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    Ok(kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?)
}

/// Polls `probe` until it succeeds, the process exits, or `timeout` passes.
async fn wait_ready(proc: &mut ManagedProcess, probe: &Probe, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let client = match probe {
        Probe::Http { .. } => None,
        Probe::Https { port, .. } => {
            let url = format!("https://127.0.0.1:{port}");
            let uri = url
                .parse()
                .map_err(|e| Error::Manifest(format!("bad URL {url}: {e}")))?;
            let mut config = kube::Config::new(uri);
            config.accept_invalid_certs = true;
            config.connect_timeout = Some(Duration::from_secs(2));
            config.read_timeout = Some(Duration::from_secs(5));
            Some(Client::try_from(config)?)
        }
        Probe::Kubeconfig { kubeconfig, .. } => {
            let mut config = kube_config_from(kubeconfig).await?;
            config.connect_timeout = Some(Duration::from_secs(2));
            config.read_timeout = Some(Duration::from_secs(5));
            Some(Client::try_from(config)?)
        }
    };
    loop {
        if let Some(status) = proc.exited() {
            return Err(proc.error(format!("exited during startup with {status}")));
        }
        let result = match (probe, &client) {
            (Probe::Http { port, path, expect }, _) => match http_get(*port, path).await {
                Ok((200, body)) if body.contains(expect) => Ok(()),
                Ok((status, body)) => Err(format!("HTTP {status}: {}", body.trim())),
                Err(e) => Err(e.to_string()),
            },
            (Probe::Https { path, .. } | Probe::Kubeconfig { path, .. }, Some(client)) => {
                match http::Request::get(*path).body(Vec::new()) {
                    Ok(req) => client
                        .request_text(req)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            (_, None) => Err("no probe client".to_string()),
        };
        let last = match result {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(proc.error(format!("not healthy after {timeout:?}; last probe: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API server's command line on `port`, and how to tell it is ready.
fn apiserver_command(
    bin: &Path,
    paths: &Paths,
    etcd_url: &str,
    port: u16,
    opts: &ControlPlaneOptions,
) -> (Command, Probe) {
    let cert_dir = paths.root.join("apiserver-certs");
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--etcd-servers={etcd_url}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(flag("cert-dir", &cert_dir))
        .arg(flag("tls-cert-file", &paths.serving_cert))
        .arg(flag("tls-private-key-file", &paths.serving_key))
        .arg(flag("client-ca-file", &paths.ca_cert))
        .arg(format!("--service-cluster-ip-range={SERVICE_CIDR}"))
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        .arg(flag("service-account-key-file", &paths.sa_pub))
        .arg(flag("service-account-signing-key-file", &paths.sa_key))
        .arg("--authorization-mode=RBAC")
        .arg("--allow-privileged=true")
        .arg("--endpoint-reconciler-type=none")
        .arg("--profiling=false");
    if !opts.controller_manager {
        // Without the serviceaccount controller no namespace gets a
        // `default` ServiceAccount, and this admission plugin would
        // reject every Pod.
        cmd.arg("--disable-admission-plugins=ServiceAccount");
    }
    cmd.args(&opts.apiserver_args);
    let probe = Probe::Kubeconfig {
        kubeconfig: paths.kubeconfig.clone(),
        path: "/readyz",
    };
    (cmd, probe)
}
