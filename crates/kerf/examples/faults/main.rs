//! Fault run (a measurement, not a test): a real control plane from
//! kerf-testenv (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler, kwok) and the real `kerf controller` binary with the kwok
//! cloud provider and its default disruption settings, SIGKILLed at a random
//! moment of every round while the cluster changes under it:
//!
//! - a Deployment scaled up (provisioning) or down (emptiness and
//!   consolidation, whose commands wait out the 15 s validation delay),
//! - a random NodeClaim deleted (termination: drain through the Eviction API),
//!
//! next to a Deployment guarded by a PodDisruptionBudget (minAvailable 2 of 3)
//! and a `karpenter.sh/do-not-disrupt` pod. Every `--settle-every` rounds,
//! and at the end, the run waits for the cluster to settle and records what
//! did not: pods Pending, Nodes without a NodeClaim (leaked instances),
//! NodeClaims whose Node is gone, objects stuck deleting (finalizers), and
//! `karpenter.sh/disrupted` taints left behind. Throughout it records the
//! fewest Ready guarded pods and fewest Running ones not being evicted (the PDB), whether the do-not-disrupt pod was
//! ever replaced, and every NodeClaim that never held a pod (a launch made
//! twice for one batch shows up there).
//!
//! Faults beside the kills, each optional: the cloud throttling every n-th
//! call (`--throttle-every`, the kwok provider's flag) or short of capacity
//! for an offering (`--insufficient-capacity`), the API server answering
//! every n-th request with 429/500/503 and cutting watches after 30 s
//! (`--api-fail-every`, kerf-testenv's fault proxy between the controller and
//! kube-apiserver), and kube-apiserver restarted after an etcd compaction
//! every n-th round (`--restart-apiserver-every`).
//!
//! Run with `bench/faults.sh` (builds the binary and the example); prints a
//! summary and one Markdown table row for `docs/reliability.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod manifests;
mod observe;
// The shared workload goes unused: this run scales its own, bigger pods.
#[allow(dead_code)]
#[path = "../h2h/shared.rs"]
mod shared;

use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes};
use manifests::{GUARDED_MIN_AVAILABLE, NODE_POOL, WORKLOADS};
use observe::{Action, Record, read, settle, watch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shared::{apply, apply_crds, free_port, kubectl, wait_ready};

struct Args {
    kerf: PathBuf,
    kills: usize,
    seed: u64,
    settle_every: usize,
    settle_timeout: Duration,
    throttle_every: u64,
    insufficient_capacity: Option<String>,
    api_fail_every: u64,
    restart_apiserver_every: usize,
}

impl Args {
    /// The faults of the run beside the kills, for the table.
    fn faults(&self) -> String {
        let mut out = vec!["kills".to_string()];
        if self.throttle_every > 0 {
            out.push(format!("cloud throttles 1 call in {}", self.throttle_every));
        }
        if let Some(offering) = &self.insufficient_capacity {
            out.push(format!("no capacity for {offering}"));
        }
        if self.api_fail_every > 0 {
            out.push(format!(
                "API fails 1 request in {} (429/500/503), watches cut after 30 s",
                self.api_fail_every
            ));
        }
        if self.restart_apiserver_every > 0 {
            out.push(format!(
                "etcd compacted and API server restarted every {} rounds",
                self.restart_apiserver_every
            ));
        }
        out.join("; ")
    }
}

fn args() -> anyhow::Result<Args> {
    let default_kerf = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("kerf"))
        .ok_or_else(|| anyhow::anyhow!("cannot find the target directory"))?;
    let mut out = Args {
        kerf: default_kerf,
        kills: 50,
        seed: 1,
        settle_every: 5,
        settle_timeout: Duration::from_secs(300),
        throttle_every: 0,
        insufficient_capacity: None,
        api_fail_every: 0,
        restart_apiserver_every: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|e| anyhow::anyhow!("{flag} {v:?}: {e}"))
        };
        match flag.as_str() {
            "--kerf" => out.kerf = PathBuf::from(value),
            "--kills" => out.kills = number(&value)? as usize,
            "--seed" => out.seed = number(&value)?,
            "--settle-every" => out.settle_every = (number(&value)? as usize).max(1),
            "--settle-timeout-secs" => out.settle_timeout = Duration::from_secs(number(&value)?),
            "--throttle-every" => out.throttle_every = number(&value)?,
            "--insufficient-capacity" => out.insufficient_capacity = Some(value),
            "--api-fail-every" => out.api_fail_every = number(&value)?,
            "--restart-apiserver-every" => out.restart_apiserver_every = number(&value)? as usize,
            _ => {
                return Err(anyhow::anyhow!(
                    "unknown flag {flag} (--kerf, --kills, --seed, --settle-every, --settle-timeout-secs, \
                     --throttle-every, --insufficient-capacity, --api-fail-every, \
                     --restart-apiserver-every)"
                ));
            }
        }
    }
    if !out.kerf.is_file() {
        return Err(anyhow::anyhow!(
            "kerf binary {} not found (build it, or pass --kerf)",
            out.kerf.display()
        ));
    }
    Ok(out)
}

/// The controller, started as `bench/faults.sh` builds it.
struct Controller {
    kerf: PathBuf,
    kubeconfig: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: usize,
    /// The cloud-fault flags, on every start.
    extra: Vec<String>,
}

impl Controller {
    async fn start(&mut self) -> anyhow::Result<()> {
        let health = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(&self.kerf)
            .args(["controller", "--cluster-name", "kerf-faults"])
            .args(["--cloud-provider", "kwok"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--metrics-port", &free_port()?.to_string()])
            .args(["--health-port", &health.to_string()])
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| anyhow::anyhow!("start {}: {e}", self.kerf.display()))?;
        wait_ready(health, &mut child, Duration::from_secs(60)).await?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: no shutdown path runs.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let options = ControlPlaneOptions::new()
        .with_controller_manager()
        .with_scheduler()
        .with_kwok()
        .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into()));
    let mut plane = ControlPlane::start(options)
        .await
        .map_err(|e| anyhow::anyhow!("start the control plane: {e}"))?;
    apply_crds(
        &plane,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../kerf-api/crds"),
    )?;
    let proxy = if args.api_fail_every > 0 {
        Some(
            plane
                .fault_proxy(kerf_testenv::Faults {
                    fail_every: args.api_fail_every,
                    cut_watches_after: Some(Duration::from_secs(30)),
                })
                .await
                .map_err(|e| anyhow::anyhow!("start the fault proxy: {e}"))?,
        )
    } else {
        None
    };
    let mut extra = Vec::new();
    if args.throttle_every > 0 {
        extra.extend([
            "--kwok-throttle-every".to_string(),
            args.throttle_every.to_string(),
        ]);
    }
    if let Some(offering) = &args.insufficient_capacity {
        extra.extend(["--kwok-insufficient-capacity".to_string(), offering.clone()]);
    }
    let mut controller = Controller {
        kerf: args.kerf.clone(),
        kubeconfig: proxy.as_ref().map_or_else(
            || plane.kubeconfig_path().to_path_buf(),
            |p| p.kubeconfig_path().to_path_buf(),
        ),
        log: plane.dir().join("kerf-controller-faults.log"),
        child: None,
        starts: 0,
        extra,
    };
    controller.start().await?;
    apply(&plane, "pool.yaml", NODE_POOL)?;
    apply(&plane, "workloads.yaml", WORKLOADS)?;

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut record = Record::default();
    let mut replicas = 0usize;
    let mut settles = Vec::new();
    let mut unsettled = Vec::new();
    let started = Instant::now();
    for round in 1..=args.kills {
        let action = match rng.random_range(0..10) {
            0..5 => Action::ScaleUp,
            5..8 => Action::ScaleDown,
            _ => Action::DeleteClaim,
        };
        match action {
            Action::ScaleUp => {
                replicas = rng.random_range(replicas.max(4) + 1..=replicas.max(4) + 24)
            }
            Action::ScaleDown => replicas = rng.random_range(0..=replicas / 2),
            Action::DeleteClaim => {}
        }
        let mut did = format!("{action:?}");
        let restart = args.restart_apiserver_every > 0 && round % args.restart_apiserver_every == 0;
        if action == Action::DeleteClaim {
            // Not the do-not-disrupt pod's node: deleting a claim overrides it.
            let s = read(&plane)?;
            let pinned: BTreeSet<&str> = s
                .pods
                .iter()
                .filter(|p| p.app == "pinned")
                .filter_map(|p| p.node.as_deref())
                .collect();
            let victims: Vec<&String> = s
                .claims
                .iter()
                .filter(|(_, (node, deleting))| {
                    !deleting && node.as_deref().is_some_and(|n| !pinned.contains(n))
                })
                .map(|(name, _)| name)
                .collect();
            if !victims.is_empty() {
                let victim = victims[rng.random_range(0..victims.len())].clone();
                kubectl(&plane, &["delete", "nodeclaim", &victim, "--wait=false"])?;
                did = format!("DeleteClaim {victim}");
            }
        } else {
            kubectl(
                &plane,
                &[
                    "scale",
                    "deployment",
                    "scale",
                    "--replicas",
                    &replicas.to_string(),
                ],
            )?;
            did = format!("{action:?} to {replicas}");
        }
        // A scale-down's commands wait out the 15 s validation delay before
        // they act: kill late enough to land in and after it.
        let window = match action {
            Action::ScaleDown => 5_000..45_000,
            Action::ScaleUp | Action::DeleteClaim => 0..15_000,
        };
        let before_kill = Duration::from_millis(rng.random_range(window));
        if restart {
            // Under the running controller, in the middle of what it does.
            plane
                .compact_etcd()
                .await
                .map_err(|e| anyhow::anyhow!("compact etcd: {e}"))?;
            plane
                .restart_apiserver(Duration::from_secs(5))
                .await
                .map_err(|e| anyhow::anyhow!("restart kube-apiserver: {e}"))?;
            did.push_str(", API server restarted");
        }
        watch(&plane, &mut record, action, before_kill)?;
        controller.kill();
        let down = Duration::from_millis(rng.random_range(0..3_000));
        watch(&plane, &mut record, action, down)?;
        controller.start().await?;
        println!("round {round:>2}: {did}, killed after {before_kill:.1?}, down {down:.1?}");
        if round % args.settle_every == 0 || round == args.kills {
            match settle(&plane, &mut record, action, replicas, args.settle_timeout)? {
                Ok(took) => {
                    println!("  settled in {took:.1?}");
                    settles.push(took);
                }
                Err(wrong) => {
                    println!("  NOT settled after {:?}: {wrong:?}", args.settle_timeout);
                    unsettled.push((round, wrong));
                }
            }
        }
    }
    controller.kill();

    record.mark_bound(&observe::scheduled_nodes(&plane)?);
    let unused = record.unused();
    let launched = record.claims.len();
    let replacements = record.claims.values().filter(|c| c.2).count();
    let fewest = record.fewest_guarded_ready.unwrap_or(0);
    let fewest_running = record.fewest_guarded_running.unwrap_or(0);
    let pinned_moved = record.pinned_uids.len().saturating_sub(1);
    let longest = settles.iter().max().copied().unwrap_or_default();
    println!();
    println!("kills:                        {}", args.kills);
    println!("controller starts:            {}", controller.starts);
    println!("run time:                     {:.0?}", started.elapsed());
    println!("cluster polls:                {}", record.polls);
    println!(
        "NodeClaims seen:              {launched} ({replacements} disruption replacements, {} terminated)",
        record.gone.len()
    );
    for (action, names) in &unused {
        println!("never held a pod ({action:?}):  {} {names:?}", names.len());
    }
    println!(
        "settles:                      {} ok, {} not (longest {longest:.1?})",
        settles.len(),
        unsettled.len()
    );
    for (round, wrong) in &unsettled {
        println!("  after round {round}: {wrong:?}");
    }
    println!("fewest guarded pods Ready:    {fewest} (PDB minAvailable {GUARDED_MIN_AVAILABLE})");
    println!(
        "fewest guarded pods Running, not being evicted: {fewest_running} (PDB minAvailable {GUARDED_MIN_AVAILABLE})"
    );
    println!("do-not-disrupt pod replaced:  {pinned_moved} times");
    println!("faults:                       {}", args.faults());
    if let Some(proxy) = &proxy {
        let (forwarded, too_many, server_errors, cut) = proxy.counts().snapshot();
        println!(
            "API fault proxy:              {forwarded} forwarded, {too_many} answered 429, {server_errors} answered 5xx, {cut} watches cut"
        );
    }
    let log = std::fs::read_to_string(&controller.log).unwrap_or_default();
    println!(
        "cloud calls throttled:        {}",
        log.matches("throttled (--kwok-throttle-every)").count()
    );
    let scale_up_unused = unused.get(&Action::ScaleUp).map_or(0, Vec::len);
    println!();
    println!(
        "| {} | {} | {} | {} | {launched} | {replacements} | {} | {} | {} | {fewest} | {fewest_running} | {pinned_moved} | {:.0?} |",
        args.faults(),
        args.seed,
        args.kills,
        unsettled.len(),
        record.gone.len(),
        scale_up_unused,
        unused.values().map(Vec::len).sum::<usize>() - scale_up_unused,
        longest,
    );
    println!("controller log: {}", controller.log.display());
    // An API-server outage lowers Ready by itself (the node lifecycle
    // controller's marks), so with restarts the PDB is judged by the pods
    // left Running and not evicted; without them by Ready as well.
    let pdb_held = fewest_running >= GUARDED_MIN_AVAILABLE
        && (args.restart_apiserver_every > 0 || fewest >= GUARDED_MIN_AVAILABLE);
    let ok = unsettled.is_empty() && pdb_held && pinned_moved == 0 && scale_up_unused == 0;
    if !ok {
        // Keep the plane's folder (logs) for a look.
        let kept = std::env::temp_dir().join(format!("kerf-faults-{}", args.seed));
        let _ = std::fs::remove_dir_all(&kept);
        let _ = Command::new("cp")
            .arg("-r")
            .arg(plane.dir())
            .arg(&kept)
            .status();
        println!("logs copied to {}", kept.display());
    }
    Ok(ok)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let code = match args() {
        Ok(args) => match run(args).await {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    };
    std::process::exit(code);
}
