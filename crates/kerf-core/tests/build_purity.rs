//! kerf-core is pure in its build as well as its source: its normal
//! dependencies (through kerf-api too) hold no async runtime, HTTP stack, TLS
//! or Kubernetes client. Asked of cargo itself (`cargo tree`), so a dependency
//! added anywhere below kerf-core that pulls one in fails here.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "rustls",
    "kube-client",
    "kube-runtime",
    "kube",
];

#[test]
fn the_core_builds_without_runtime_http_tls_or_a_kubernetes_client() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "kerf-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tree.contains("kerf-api"),
        "kerf-core's tree names kerf-api:\n{tree}"
    );
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| FORBIDDEN.contains(name))
        .collect();
    assert!(found.is_empty(), "kerf-core depends on {found:?}:\n{tree}");
}
