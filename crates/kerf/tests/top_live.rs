//! `kerf top` against a live cluster (the real control plane with kwok and
//! the kerf controller) while the seed deployment scales: `--once` prints a
//! row per node as kubectl lists them, priced from the built-in catalogue,
//! and the total; the terminal UI, run in a real terminal (tmux), shows the
//! nodes and the total, shows a node launched after it started (its
//! watches, not a restart), and exits cleanly on `q`. Fails (never skips)
//! when the control-plane binaries or tmux are missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tmux::Tmux;
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

fn scale_and_wait(plane: &ControlPlane, replicas: usize) {
    kubectl(
        plane,
        &[
            "scale",
            "deployment",
            "inflate",
            "--replicas",
            &replicas.to_string(),
        ],
    );
    wait(
        plane,
        &format!("{replicas} inflate pods Running"),
        Duration::from_secs(180),
        || (running_inflate_pods(plane).len() == replicas).then_some(()),
    );
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

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_the_live_fleet_and_its_cost() {
    let catalog = Catalog::builtin();
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply_seed(&plane);
    scale_and_wait(&plane, 8);
    let before = nodes(&plane);
    assert!(before.len() >= 2, "{before:?}");

    // (a) --once: a row per node, priced per the catalogue, and the total.
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["top", "--once", "--sort", "name", "--kubeconfig"])
        .arg(plane.kubeconfig_path())
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf top --once");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains('\u{1b}'), "escape codes in --once: {text:?}");
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
        shell_quote(Path::new(env!("CARGO_BIN_EXE_kerf"))),
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

    scale_and_wait(&plane, 16);
    let after = nodes(&plane);
    let new: Vec<&NodeFacts> = after.iter().filter(|n| !before.contains(n)).collect();
    assert!(!new.is_empty(), "no node launched: {after:?}");
    let screen = wait_screen(
        &plane,
        &tmux,
        "kerf top showing the new node",
        shows(&after),
    );
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
