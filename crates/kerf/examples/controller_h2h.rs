//! Controller head to head (a measurement, not a test): one run of one
//! controller on a fresh real control plane from kerf-testenv (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok managing
//! Nodes annotated `kwok.x-k8s.io/node=fake`, which both controllers' nodes
//! carry). The controller is upstream Karpenter's kwok build or `kerf
//! controller --cloud-provider kwok`, with the same NodePool and the same
//! instance types; a Deployment of small pods is scaled from 0 to `--pods`.
//!
//! Prints (and writes to `--out`) one JSON object: time from scale-up to the
//! last pod Running and to the last node Ready, nodes launched, the fleet's
//! $/h at the catalogue's prices, and the controller's peak RSS (VmHWM) and
//! CPU seconds (utime + stime, whole process life and the scale-up alone).
//!
//! With `--scale-down-to N`, a second phase follows (`h2h::scale_down`):
//! consolidation is switched on, the Deployment scaled down to N, and the run
//! waits until the fleet stops changing; its figures go under `scale_down`.
//!
//! Run by `bench/controller-head-to-head.sh`, which builds both controllers,
//! converts upstream's instance types into a kerf catalogue and alternates
//! the two controllers per size.

mod h2h;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use h2h::controllers::{self, Inputs, Ports, Which};
use h2h::manifests;
use h2h::proc_stats::Sampler;
use h2h::scale_down::{self, ScaleDown};
use h2h::shared::{self, DEPLOYMENT, apply, apply_crds, kubectl};
use h2h::watch::Watches;
use kerf_cloud::Catalog;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes};

struct Args {
    which: Which,
    inputs: Inputs,
    pods: usize,
    timeout: Duration,
    out: Option<PathBuf>,
    scale_down: Option<ScaleDown>,
}

const USAGE: &str = "--controller upstream|kerf|kerf-bind-pods --binary PATH --pods N --catalog FILE \
--instance-types FILE --upstream-crds DIR [--timeout-secs S] [--out FILE] \
[--scale-down-to N [--quiet-secs S] [--consolidate-after DURATION]]";

fn args() -> anyhow::Result<Args> {
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value ({USAGE})"))?;
        flags.insert(flag, value);
    }
    let mut take = |name: &str| flags.remove(name);
    let need = |v: Option<String>, name: &str| {
        v.ok_or_else(|| anyhow::anyhow!("{name} is required ({USAGE})"))
    };
    let which = Which::parse(&need(take("--controller"), "--controller")?)?;
    let binary = PathBuf::from(need(take("--binary"), "--binary")?);
    let pods = need(take("--pods"), "--pods")?;
    let pods = pods
        .parse()
        .map_err(|e| anyhow::anyhow!("--pods {pods:?}: {e}"))?;
    let catalog = PathBuf::from(need(take("--catalog"), "--catalog")?);
    let instance_types = PathBuf::from(need(take("--instance-types"), "--instance-types")?);
    let upstream_crds = PathBuf::from(need(take("--upstream-crds"), "--upstream-crds")?);
    let timeout = match take("--timeout-secs") {
        Some(v) => Duration::from_secs(
            v.parse()
                .map_err(|e| anyhow::anyhow!("--timeout-secs {v:?}: {e}"))?,
        ),
        None => Duration::from_secs(1800),
    };
    let out = take("--out").map(PathBuf::from);
    let number = |flag: &str, v: String| -> anyhow::Result<u64> {
        v.parse().map_err(|e| anyhow::anyhow!("{flag} {v:?}: {e}"))
    };
    let quiet = take("--quiet-secs")
        .map(|v| number("--quiet-secs", v))
        .transpose()?;
    let consolidate_after = take("--consolidate-after");
    let scale_down = match take("--scale-down-to") {
        Some(v) => Some(ScaleDown {
            to: number("--scale-down-to", v)? as usize,
            quiet: Duration::from_secs(quiet.unwrap_or(120)),
            consolidate_after: consolidate_after.unwrap_or_else(|| "0s".into()),
        }),
        None if quiet.is_some() || consolidate_after.is_some() => {
            return Err(anyhow::anyhow!(
                "--quiet-secs and --consolidate-after need --scale-down-to ({USAGE})"
            ));
        }
        None => None,
    };
    if let Some(unknown) = flags.keys().next() {
        return Err(anyhow::anyhow!("unknown flag {unknown} ({USAGE})"));
    }
    for (what, path) in [
        ("--binary", &binary),
        ("--catalog", &catalog),
        ("--instance-types", &instance_types),
    ] {
        if !path.is_file() {
            return Err(anyhow::anyhow!("{what} {} is not a file", path.display()));
        }
    }
    Ok(Args {
        which,
        inputs: Inputs {
            binary,
            catalog,
            instance_types,
            upstream_crds,
        },
        pods,
        timeout,
        out,
        scale_down,
    })
}

/// kube-controller-manager creates the pods and kube-scheduler binds them;
/// at their default client rates (20 and 50 requests/s) they, not the
/// autoscaler, would set the pace of a 5,000-pod scale-up.
fn plane_options() -> ControlPlaneOptions {
    let mut options = ControlPlaneOptions::new()
        .with_controller_manager()
        .with_scheduler()
        .with_kwok()
        .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into()));
    let rates = ["--kube-api-qps=200", "--kube-api-burst=400"].map(String::from);
    options.controller_manager_args.extend(rates.clone());
    options.scheduler_args.extend(rates);
    options
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let catalog =
        Catalog::from_file(&args.inputs.catalog).map_err(|e| anyhow::anyhow!("--catalog: {e}"))?;
    let plane = ControlPlane::start(plane_options())
        .await
        .map_err(|e| anyhow::anyhow!("start the control plane: {e}"))?;
    let crds = controllers::crds(args.which, &args.inputs);
    apply_crds(&plane, &crds)?;
    match args.which {
        Which::Upstream => {
            apply(&plane, "nodepool.yaml", &manifests::upstream_node_pool())?;
            kubectl(
                &plane,
                &[
                    "patch",
                    "kwoknodeclass",
                    "default",
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    manifests::KWOK_NODE_CLASS_READY,
                ],
            )?;
        }
        Which::Kerf | Which::KerfBindPods => {
            apply(&plane, "nodepool.yaml", &manifests::kerf_node_pool())?
        }
    }
    apply(&plane, "deployment.yaml", DEPLOYMENT)?;

    let ports = Ports {
        metrics: shared::free_port()?,
        health: shared::free_port()?,
    };
    let log = plane
        .dir()
        .join(format!("{}-controller.log", args.which.name()));
    let spawned = Instant::now();
    let mut child = controllers::spawn(
        args.which,
        &args.inputs,
        plane.kubeconfig_path(),
        &ports,
        &log,
    )?;
    let pid = child.id();
    let sampler = Sampler::start(pid, Duration::from_millis(250));
    let result = async {
        shared::wait_ready(ports.health, &mut child, Duration::from_secs(120)).await?;
        if args.which == Which::Upstream {
            // Upstream's provisioner skips a NodePool until its readiness
            // controller has marked it Ready; that is startup, not scale-up.
            kubectl(
                &plane,
                &[
                    "wait",
                    "--for=condition=Ready",
                    "nodepool/default",
                    "--timeout=60s",
                ],
            )?;
        }
        let startup = spawned.elapsed();
        measure(&plane, args, &catalog, &sampler, pid, startup).await
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    if result.is_err() || controllers::diagnostic_log().is_some() {
        let kept = std::env::temp_dir().join(format!("controller-h2h-{}.log", args.which.name()));
        let _ = std::fs::copy(&log, &kept);
        eprintln!("{} controller log: {}", args.which.name(), kept.display());
    }
    result
}

async fn measure(
    plane: &ControlPlane,
    args: &Args,
    catalog: &Catalog,
    sampler: &Sampler,
    pid: u32,
    startup: Duration,
) -> anyhow::Result<serde_json::Value> {
    let watches = Watches::start(plane.client(), "app=scale");
    // Let the watches list the (empty) cluster before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = sampler.last(pid).cpu_seconds;
    let pods = args.pods.to_string();
    let start = Instant::now();
    kubectl(
        plane,
        &["scale", "deployment", "scale", "--replicas", &pods],
    )?;
    eprintln!("{}: scaled to {pods} pods", args.which.name());
    let mut last_report = Instant::now();
    let all_running = loop {
        let (running, ready) = {
            let seen = watches.observed();
            (seen.running.len(), seen.ready_nodes())
        };
        if running >= args.pods {
            break start.elapsed();
        }
        if last_report.elapsed() >= Duration::from_secs(15) {
            eprintln!(
                "{}: {:>6.1?}: {running} pods Running, {ready} nodes Ready",
                args.which.name(),
                start.elapsed()
            );
            last_report = Instant::now();
        }
        if start.elapsed() > args.timeout {
            return Err(anyhow::anyhow!(
                "{running}/{pods} pods Running after {:?}",
                args.timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stats = sampler.last(pid);
    let (last_node_ready, (shapes, dollars), nodes_launched, nodes_at_end) = {
        let seen = watches.observed();
        (
            seen.last_node_ready
                .map_or(Duration::ZERO, |t| t.saturating_duration_since(start)),
            seen.fleet(catalog)?,
            seen.nodes.len(),
            seen.nodes.values().filter(|n| !n.deleted).count(),
        )
    };
    let scale_down = match &args.scale_down {
        Some(down) => Some(
            scale_down::measure(
                plane,
                args.which.name(),
                down,
                &watches,
                (sampler, pid),
                catalog,
                args.timeout,
            )
            .await?,
        ),
        None => None,
    };
    Ok(serde_json::json!({
        "controller": args.which.name(),
        "pods": args.pods,
        "seconds_to_all_running": all_running.as_secs_f64(),
        "seconds_to_last_node_ready": last_node_ready.as_secs_f64(),
        "nodes_launched": nodes_launched,
        "nodes_at_end": nodes_at_end,
        "dollars_per_hour": dollars,
        "shapes": shapes,
        "peak_rss_mib": stats.peak_rss_kib as f64 / 1024.0,
        "cpu_seconds_total": stats.cpu_seconds,
        "cpu_seconds_scale_up": stats.cpu_seconds - cpu_before,
        "startup_seconds": startup.as_secs_f64(),
        "scale_down": scale_down,
    }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let code = match run(&args).await {
        Ok(result) => {
            let text = result.to_string();
            println!("{text}");
            match &args.out {
                Some(path) => match std::fs::write(path, format!("{text}\n")) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("error: write {}: {e}", path.display());
                        1
                    }
                },
                None => 0,
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    std::process::exit(code);
}
