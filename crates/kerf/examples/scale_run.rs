//! Scale run (a measurement, not a test): a real control plane from
//! kerf-testenv (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler, kwok), the real `kerf controller` binary with the kwok
//! cloud provider in nominate mode, and a Deployment of small pods scaled
//! from 0 to `--replicas` (1,000 by default) with kubectl. Prints the time
//! from scale-up to the last pod Running and to the last node Ready, the
//! nodes launched and their $/h (built-in catalogue prices).
//!
//! Run with `bench/controller-scale.sh` (builds the binary and the example),
//! or `cargo run -p kerf --example scale_run -- --kerf target/debug/kerf`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "h2h/shared.rs"]
mod shared;

use kerf_cloud::Catalog;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes};
use shared::{DEPLOYMENT, apply, apply_crds, free_port, kubectl, wait_ready};

const PROVISIONER: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  requirements:
    - key: "topology.kubernetes.io/zone"
      operator: In
      values: ["us-east-1a", "us-east-1b", "us-east-1c"]
    - key: "karpenter.sh/capacity-type"
      operator: In
      values: ["spot", "on-demand"]
    - key: "karpenter.k8s.aws/instance-category"
      operator: In
      values: ["c", "m", "r"]
  provider:
    instanceProfile: KarpenterNodeInstanceProfile-eks-blueprint
"#;

struct Args {
    kerf: PathBuf,
    replicas: usize,
    timeout: Duration,
}

fn args() -> anyhow::Result<Args> {
    let default_kerf = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("kerf"))
        .ok_or_else(|| anyhow::anyhow!("cannot find the target directory"))?;
    let mut out = Args {
        kerf: default_kerf,
        replicas: 1000,
        timeout: Duration::from_secs(900),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--kerf" => out.kerf = PathBuf::from(value),
            "--replicas" => {
                out.replicas = value
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--replicas {value:?}: {e}"))?
            }
            "--timeout-secs" => {
                out.timeout = Duration::from_secs(
                    value
                        .parse()
                        .map_err(|e| anyhow::anyhow!("--timeout-secs {value:?}: {e}"))?,
                )
            }
            _ => {
                return Err(anyhow::anyhow!(
                    "unknown flag {flag} (--kerf, --replicas, --timeout-secs)"
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

/// Nodes as (Ready, instance-type/capacity-type/zone).
fn nodes(plane: &ControlPlane) -> anyhow::Result<Vec<(bool, String)>> {
    let out = kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}={.metadata.labels.node\\.kubernetes\\.io/instance-type}/{.metadata.labels.karpenter\\.sh/capacity-type}/{.metadata.labels.topology\\.kubernetes\\.io/zone}{\"\\n\"}{end}",
        ],
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(ready, shape)| (ready == "True", shape.to_string()))
        .collect())
}

fn running_pods(plane: &ControlPlane) -> anyhow::Result<usize> {
    let out = kubectl(
        plane,
        &[
            "get",
            "pods",
            "-l",
            "app=scale",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
        ],
    )?;
    Ok(out.lines().count())
}

fn price(catalog: &Catalog, shape: &str) -> Option<f64> {
    let mut parts = shape.split('/');
    let (it, capacity, zone) = (parts.next()?, parts.next()?, parts.next()?);
    let entry = catalog.get(it)?;
    match capacity {
        "spot" => entry.spot.get(zone).copied(),
        _ => entry.on_demand,
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let options = ControlPlaneOptions::new()
        .with_controller_manager()
        .with_scheduler()
        .with_kwok()
        .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into()));
    let plane = ControlPlane::start(options)
        .await
        .map_err(|e| anyhow::anyhow!("start the control plane: {e}"))?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kerf-api/crds");
    apply_crds(&plane, &crds)?;
    let health_port = free_port()?;
    let log_path = plane.dir().join("kerf-controller-scale.log");
    let log = std::fs::File::create(&log_path)?;
    let mut controller = Command::new(&args.kerf)
        .args([
            "controller",
            "--cluster-name",
            "kerf-scale",
            "--cloud-provider",
            "kwok",
        ])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .args(["--metrics-port", &free_port()?.to_string()])
        .args(["--health-port", &health_port.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("start {}: {e}", args.kerf.display()))?;
    let result = match wait_ready(health_port, &mut controller, Duration::from_secs(60)).await {
        Ok(()) => measure(&plane, &args).await,
        Err(e) => Err(e),
    };
    let _ = controller.kill();
    let _ = controller.wait();
    if result.is_err() {
        eprintln!("kerf controller log: {}", log_path.display());
    }
    result
}

async fn measure(plane: &ControlPlane, args: &Args) -> anyhow::Result<()> {
    apply(plane, "provisioner.yaml", PROVISIONER)?;
    apply(plane, "scale.yaml", DEPLOYMENT)?;
    let replicas = args.replicas.to_string();
    let start = Instant::now();
    kubectl(
        plane,
        &["scale", "deployment", "scale", "--replicas", &replicas],
    )?;
    println!("scaled deployment to {replicas} replicas");
    let (mut ready_nodes, mut last_node_ready) = (0, Duration::ZERO);
    let mut last_report = Instant::now();
    let pods_running = loop {
        let ready = nodes(plane)?.iter().filter(|(r, _)| *r).count();
        if ready > ready_nodes {
            ready_nodes = ready;
            last_node_ready = start.elapsed();
        }
        let running = running_pods(plane)?;
        if running >= args.replicas {
            break start.elapsed();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  {:>6.1?}: {running} pods Running, {ready} nodes Ready",
                start.elapsed()
            );
            last_report = Instant::now();
        }
        if start.elapsed() > args.timeout {
            return Err(anyhow::anyhow!(
                "{running}/{replicas} pods Running after {:?}",
                args.timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let all = nodes(plane)?;
    let catalog = Catalog::builtin();
    let mut shapes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dollars = 0.0;
    for (_, shape) in &all {
        *shapes.entry(shape.as_str()).or_default() += 1;
        dollars += price(&catalog, shape)
            .ok_or_else(|| anyhow::anyhow!("no catalogue price for {shape}"))?;
    }
    println!("pods:                         {replicas} (100m CPU, 128Mi each)");
    println!("scale-up → last pod Running:  {pods_running:.1?}");
    println!("scale-up → last node Ready:   {last_node_ready:.1?}");
    println!("nodes launched:               {}", all.len());
    for (shape, n) in shapes {
        println!("  {n:>4} × {shape}");
    }
    println!("cost:                         ${dollars:.4}/h");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let code = match args() {
        Ok(args) => match run(args).await {
            Ok(()) => 0,
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
