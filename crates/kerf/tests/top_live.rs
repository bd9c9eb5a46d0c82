//! `kerf top` against a live cluster (the real control plane with kwok and
//! the kerf controller) while the seed deployment scales: `--once` prints a
//! row per node as kubectl lists them, priced from the built-in catalogue,
//! with the CPU and memory requested by the pods kubectl shows bound to it
//! against its allocatable, and the total; while a scale-up is in flight
//! (Nodes register 3 s after launch) it counts the pending pods and the
//! NodeClaims not yet Initialized as kubectl shows them at that moment; the
//! terminal UI, run in a real terminal (tmux), shows the nodes and the
//! total, shows a node launched after it started (its watches, not a
//! restart) with each row's type, zone, capacity type and CPU and memory
//! bars, and exits cleanly on `q`. Fails (never skips) when the
//! control-plane binaries or tmux are missing.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{Tmux, shell_quote};
use common::*;
use kerf_cloud::Catalog;
use kerf_testenv::ControlPlane;

/// A node as kubectl reports it: name, type, zone, capacity type.
#[derive(Debug, Clone, PartialEq)]
struct NodeFacts {
    name: String,
    instance_type: String,
    zone: String,
    capacity_type: String,
}

impl NodeFacts {
    /// The catalogue's $/h for the node.
    fn price(&self, catalog: &Catalog) -> f64 {
        let entry = catalog
            .get(&self.instance_type)
            .unwrap_or_else(|| panic!("{} not in the catalogue", self.instance_type));
        match self.capacity_type.as_str() {
            "spot" => entry.spot[&self.zone],
            "on-demand" => entry.on_demand.expect("on-demand price"),
            other => panic!("capacity type {other}"),
        }
    }
}

fn nodes(plane: &ControlPlane) -> Vec<NodeFacts> {
    let json: serde_json::Value =
        serde_json::from_str(&kubectl(plane, &["get", "nodes", "-o", "json"])).expect("json");
    let label = |n: &serde_json::Value, k: &str| {
        n["metadata"]["labels"][k]
            .as_str()
            .unwrap_or_else(|| panic!("node without {k}: {n}"))
            .to_string()
    };
    let mut out: Vec<NodeFacts> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| NodeFacts {
            name: n["metadata"]["name"].as_str().expect("name").to_string(),
            instance_type: label(n, "node.kubernetes.io/instance-type"),
            zone: label(n, "topology.kubernetes.io/zone"),
            capacity_type: label(n, "karpenter.sh/capacity-type"),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn total(nodes: &[NodeFacts], catalog: &Catalog) -> f64 {
    nodes.iter().map(|n| n.price(catalog)).sum()
}

/// A quantity (`1`, `500m`, `1536Mi`, `32734020Ki`) in milli-units,
/// rounded up as Kubernetes rounds; exponents are not expected here.
fn milli(q: &str) -> i128 {
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits: i128 = format!("{int}{frac}")
        .parse()
        .unwrap_or_else(|e| panic!("quantity {q:?}: {e}"));
    let scale = 10i128.pow(u32::try_from(frac.len()).expect("digits"));
    let per_unit: i128 = match suffix {
        "m" => 1,
        "" => 1_000,
        "k" => 1_000_000,
        "M" => 1_000_000_000,
        "G" => 1_000_000_000_000,
        "T" => 1_000_000_000_000_000,
        "Ki" => 1_000 << 10,
        "Mi" => 1_000 << 20,
        "Gi" => 1_000 << 30,
        "Ti" => 1_000 << 40,
        other => panic!("quantity {q:?}: suffix {other:?} not handled by this test"),
    };
    (digits * per_unit + scale - 1) / scale
}

/// CPU and memory in milli-units from a resource list (absent is 0).
fn cpu_memory(list: &serde_json::Value) -> [i128; 2] {
    ["cpu", "memory"].map(|r| list[r].as_str().map_or(0, milli))
}

/// A pod's effective CPU and memory requests: its containers' sum, or its
/// largest init container when larger, plus the pod overhead.
fn pod_requests(pod: &serde_json::Value) -> [i128; 2] {
    let spec = &pod["spec"];
    let list = |key: &str| spec[key].as_array().cloned().unwrap_or_default();
    let mut sum = [0, 0];
    for c in list("containers") {
        let r = cpu_memory(&c["resources"]["requests"]);
        sum = [sum[0] + r[0], sum[1] + r[1]];
    }
    for c in list("initContainers") {
        assert!(
            c["restartPolicy"].is_null(),
            "sidecar init containers are not modelled here: {pod}"
        );
        let r = cpu_memory(&c["resources"]["requests"]);
        sum = [sum[0].max(r[0]), sum[1].max(r[1])];
    }
    let overhead = cpu_memory(&spec["overhead"]);
    [sum[0] + overhead[0], sum[1] + overhead[1]]
}

/// Per node, the CPU and memory the pods kubectl shows bound to it (those
/// not Succeeded or Failed) request, as a percentage of its allocatable
/// (`None` when nothing is allocatable).
fn requested_percent(plane: &ControlPlane) -> BTreeMap<String, [Option<f64>; 2]> {
    let get = |kind: &str| -> Vec<serde_json::Value> {
        let json: serde_json::Value =
            serde_json::from_str(&kubectl(plane, &["get", kind, "-A", "-o", "json"]))
                .expect("json");
        json["items"].as_array().expect("items").clone()
    };
    let mut requested: BTreeMap<String, [i128; 2]> = BTreeMap::new();
    for pod in get("pods") {
        if matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ) {
            continue;
        }
        let Some(node) = pod["spec"]["nodeName"].as_str() else {
            continue;
        };
        let r = pod_requests(&pod);
        let sum = requested.entry(node.to_string()).or_default();
        *sum = [sum[0] + r[0], sum[1] + r[1]];
    }
    get("nodes")
        .iter()
        .map(|n| {
            let name = n["metadata"]["name"].as_str().expect("name").to_string();
            let allocatable = cpu_memory(&n["status"]["allocatable"]);
            let req = requested.get(&name).copied().unwrap_or_default();
            let pct = |i: usize| {
                (allocatable[i] > 0).then(|| req[i] as f64 * 100.0 / allocatable[i] as f64)
            };
            (name, [pct(0), pct(1)])
        })
        .collect()
}

/// A percentage as `--once` prints it: `52%`, or `-`.
fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_string(), |p| format!("{p:.0}%"))
}

/// A percentage as the terminal UI draws it: a 20-cell bar and the figure.
fn bar(p: Option<f64>) -> String {
    let Some(v) = p else {
        return "-".to_string();
    };
    let filled = ((v / 100.0 * 20.0).round() as usize).min(20);
    format!(
        "{}{} {:>4}",
        "█".repeat(filled),
        "░".repeat(20 - filled),
        percent(p)
    )
}

/// What kubectl shows in flight at one moment (one list call).
#[derive(Debug, Clone, Copy, PartialEq)]
struct InFlight {
    /// Pods in phase Pending that no node is bound to (and not being deleted).
    pending_pods: usize,
    /// NodeClaims (not being deleted) with neither `Initialized=True` nor
    /// `Ready=True`.
    claims: usize,
    /// NodeClaims (not being deleted) whose Node is not Ready, or that have
    /// none yet: differs from `claims` only while a claim catches up with
    /// its Node.
    claims_without_ready_node: usize,
}

fn in_flight(plane: &ControlPlane) -> InFlight {
    let json: serde_json::Value = serde_json::from_str(&kubectl(
        plane,
        &["get", "pods,nodeclaims,nodes", "-A", "-o", "json"],
    ))
    .expect("json");
    let items = json["items"].as_array().expect("items");
    let live = |o: &&serde_json::Value| o["metadata"]["deletionTimestamp"].is_null();
    let of = |kind: &'static str| items.iter().filter(move |o| o["kind"] == kind).filter(live);
    let has = |o: &serde_json::Value, types: &[&str]| {
        o["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| types.iter().any(|t| c["type"] == *t) && c["status"] == "True")
        })
    };
    let ready_nodes: Vec<&str> = of("Node")
        .filter(|n| has(n, &["Ready"]))
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    InFlight {
        pending_pods: of("Pod")
            .filter(|p| p["status"]["phase"] == "Pending" && p["spec"]["nodeName"].is_null())
            .count(),
        claims: of("NodeClaim")
            .filter(|c| !has(c, &["Initialized", "Ready"]))
            .count(),
        claims_without_ready_node: of("NodeClaim")
            .filter(|c| {
                !c["status"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| ready_nodes.contains(&n))
            })
            .count(),
    }
}

/// `kerf top --once --sort name`'s output (exit 0, no escape codes).
fn top_once(plane: &ControlPlane) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["top", "--once", "--sort", "name", "--kubeconfig"])
        .arg(plane.kubeconfig_path())
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf top --once");
    let text = success_stdout(&out);
    assert!(!text.contains('\u{1b}'), "escape codes in --once: {text:?}");
    text
}

/// The pending pods and in-flight NodeClaims `--once` printed.
fn printed_in_flight(text: &str) -> (usize, usize) {
    let count = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {text}"))
            .trim()
            .parse::<usize>()
            .unwrap_or_else(|e| panic!("{prefix}: {e}: {text}"))
    };
    (count("pending pods: "), count("in-flight NodeClaims: "))
}

fn wait_running(plane: &ControlPlane, replicas: usize) {
    wait(
        plane,
        &format!("{replicas} inflate pods Running"),
        Duration::from_secs(180),
        || (running_inflate_pods(plane).len() == replicas).then_some(()),
    );
}

fn scale_and_wait(plane: &ControlPlane, replicas: usize) {
    scale_inflate(plane, replicas);
    wait_running(plane, replicas);
}

/// Waits until the screen satisfies `check`; the screen when it does.
fn wait_screen(
    plane: &ControlPlane,
    tmux: &Tmux,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait(plane, what, Duration::from_secs(60), || {
            last = tmux.screen();
            check(&last).then(|| last.clone())
        })
    }));
    found.unwrap_or_else(|e| {
        eprintln!("--- kerf top screen ---\n{last}");
        std::panic::resume_unwind(e)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_the_live_fleet_and_its_cost() {
    let catalog = Catalog::builtin();
    let plane = cluster(true).await;
    // Nodes register 3 s after their launch: a window in which pods are
    // pending and NodeClaims are in flight.
    let _controller = start_controller(&plane, false, &["--kwok-registration-delay", "3s"]);
    apply_seed(&plane);
    // Memory requests too, so the MEMORY column is not 0% everywhere.
    kubectl(
        &plane,
        &[
            "set",
            "resources",
            "deployment",
            "inflate",
            "--requests=cpu=1,memory=1536Mi",
        ],
    );
    scale_and_wait(&plane, 8);
    let before = nodes(&plane);
    assert!(before.len() >= 2, "{before:?}");

    // (a) --once: a row per node, priced per the catalogue, its CPU and
    // memory requested against allocatable as kubectl shows them, and the total.
    let usage = requested_percent(&plane);
    let text = top_once(&plane);
    eprintln!("--- kerf top --once ---\n{text}");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NODE", "POOL", "TYPE", "ZONE", "CAPACITY", "$/H", "AGE", "PODS", "CPU", "MEMORY"
        ]
    );
    let rows: Vec<Vec<&str>> = lines
        .by_ref()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), before.len(), "{text}");
    let mut pods = 0;
    for (row, node) in rows.iter().zip(&before) {
        assert_eq!(row[0], node.name, "{text}");
        assert_eq!(row[1], "default", "{text}");
        assert_eq!(row[2], node.instance_type, "{text}");
        assert_eq!(row[3], node.zone, "{text}");
        assert_eq!(row[4], node.capacity_type, "{text}");
        assert_eq!(row[5], format!("{:.4}", node.price(&catalog)), "{text}");
        pods += row[7].parse::<usize>().expect("pods");
        let [cpu, memory] = usage[&node.name];
        assert_eq!(row[8], percent(cpu), "CPU of {}: {text}", node.name);
        assert_eq!(row[9], percent(memory), "memory of {}: {text}", node.name);
        assert_ne!(row[9], "0%", "{text}");
    }
    assert_eq!(pods, 8, "{text}");
    let hourly = total(&before, &catalog);
    assert!(
        text.contains(&format!("nodes: {}\n", before.len())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "cost: ${hourly:.4}/h, ${:.2}/month\n",
            hourly * 730.0
        )),
        "{text}"
    );
    assert!(text.contains("pending pods: 0\n"), "{text}");
    assert!(text.contains("in-flight NodeClaims: 0\n"), "{text}");

    // (b) the terminal UI in a real terminal, while the deployment scales.
    let exit_file: PathBuf = plane.dir().join("kerf-top.exit");
    let command = format!(
        "{} top --kubeconfig {}; echo $? > {}",
        shell_quote(env!("CARGO_BIN_EXE_kerf")),
        shell_quote(plane.kubeconfig_path()),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start("kerf-top", &command);
    let shows = |facts: &[NodeFacts]| {
        let hourly = format!("${:.4}/h", total(facts, &catalog));
        let count = format!("nodes: {}", facts.len());
        let names: Vec<String> = facts.iter().map(|n| n.name.clone()).collect();
        move |screen: &str| {
            screen.contains(&count)
                && screen.contains(&hourly)
                && screen.contains("in-flight NodeClaims: ")
                && names.iter().all(|n| screen.contains(n))
        }
    };
    wait_screen(&plane, &tmux, "kerf top showing the nodes", shows(&before));
    tmux.keys("s");
    wait_screen(&plane, &tmux, "s to sort by age", |s| {
        s.contains("sort (by age)")
    });

    // (c) while the scale-up is in flight, --once counts the pending pods and
    // the NodeClaims not yet Initialized as kubectl shows them: a read counts
    // when kubectl gives the same figures before and after it, no claim is
    // catching up with a Ready Node, and there are pods pending and claims
    // in flight.
    scale_inflate(&plane, 16);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reads = Vec::new();
    loop {
        let before = in_flight(&plane);
        let text = top_once(&plane);
        let after = in_flight(&plane);
        let printed = printed_in_flight(&text);
        let steady = before == after && before.claims == before.claims_without_ready_node;
        if steady && before.pending_pods > 0 && before.claims > 0 {
            assert_eq!(
                printed,
                (before.pending_pods, before.claims),
                "(pending pods, in-flight NodeClaims): {text}"
            );
            eprintln!(
                "--- kerf top --once, scale-up in flight (after {} unsteady reads) ---\n{text}",
                reads.len()
            );
            break;
        }
        reads.push(format!(
            "kubectl {before:?} then {after:?}, kerf top {printed:?}"
        ));
        assert!(
            Instant::now() < deadline,
            "no steady read with pods pending and NodeClaims in flight: {reads:#?}"
        );
    }
    wait_running(&plane, 16);
    let after = nodes(&plane);
    let new: Vec<&NodeFacts> = after.iter().filter(|n| !before.contains(n)).collect();
    assert!(!new.is_empty(), "no node launched: {after:?}");
    // Each row with its node's type, zone, capacity type and bars.
    let usage = requested_percent(&plane);
    let rows: Vec<(String, Vec<String>)> = after
        .iter()
        .map(|n| {
            let [cpu, memory] = usage[&n.name];
            let cells = vec![
                n.instance_type.clone(),
                n.zone.clone(),
                n.capacity_type.clone(),
                bar(cpu),
                bar(memory),
            ];
            (format!("{} ", n.name), cells)
        })
        .collect();
    let all = shows(&after);
    let screen = wait_screen(&plane, &tmux, "kerf top showing the new node", |s| {
        all(s)
            && rows.iter().all(|(name, cells)| {
                s.lines()
                    .find(|l| l.contains(name.as_str()))
                    .is_some_and(|l| cells.iter().all(|c| l.contains(c.as_str())))
            })
    });
    eprintln!("--- kerf top screen ---\n{screen}");
    assert!(
        screen.contains(&format!("{:.4}", new[0].price(&catalog))),
        "{screen}"
    );

    tmux.keys("q");
    let code = wait(
        &plane,
        "kerf top to exit on q",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&exit_file)
                .ok()
                .filter(|s| s.ends_with('\n'))
        },
    );
    assert_eq!(code.trim(), "0", "kerf top exit status");
}
