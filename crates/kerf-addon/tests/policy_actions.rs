//! The controller policy grants what kerf calls, and nothing else: this scans the AWS
//! provider's sources (`crates/kerf-aws/src`, the controller's AWS loops in
//! `controllers/` included) for SDK operation calls, maps each to its IAM
//! action with the operation names the SDK crates themselves declare
//! (`Metadata::new("DescribeInstances", "EC2")` in `src/operation/*.rs`, found through
//! `cargo metadata`), and compares that set with the actions the policy grants. A call
//! added to kerf-aws without its grant, or a grant without its call, fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kerf_addon::aws::documents::{controller_policy, granted_actions};
use kerf_addon::aws::names::Context;

/// Granted but not an SDK call of kerf's, each with the reason IAM needs it.
const EXTRAS: &[(&str, &str)] = &[
    (
        "ec2:RunInstances",
        "CreateFleet of type instant launches through RunInstances on the caller's authority",
    ),
    (
        "ec2:CreateTags",
        "TagSpecifications on CreateFleet and CreateLaunchTemplate are authorized as CreateTags \
         (restricted by ec2:CreateAction to those calls)",
    ),
    (
        "iam:TagInstanceProfile",
        "Tags on CreateInstanceProfile (the class's profile for a `role`) are authorized as \
         TagInstanceProfile",
    ),
    (
        "iam:PassRole",
        "launching with the node instance profile passes the node role to EC2",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// snake_case operation name -> IAM actions (`ec2:DescribeInstances`), for every operation of
/// every `aws-sdk-*` crate kerf-aws depends on.
fn sdk_operations(services: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this platform's packages: the others (Windows crates) are never downloaded.
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let rustc = String::from_utf8_lossy(&rustc.stdout).to_string();
    let host = rustc
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            host,
        ])
        .current_dir(workspace_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some(service) = name.strip_prefix("aws-sdk-") else {
            continue;
        };
        if !services.contains(service) {
            continue;
        }
        seen.insert(service.to_string());
        let dir = Path::new(pkg["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .join("src/operation");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let snake = path.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            // rustfmt may break the call after its parenthesis.
            let marker = "orchestrator::Metadata::new(";
            let Some(at) = text.find(marker) else {
                continue;
            };
            let rest = text[at + marker.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let op = &rest[..rest.find('"').unwrap()];
            // The IAM prefix of these services is the crate's suffix (ec2, ssm, sqs, pricing).
            ops.entry(snake)
                .or_default()
                .insert(format!("{service}:{op}"));
        }
    }
    assert_eq!(
        &seen, services,
        "cargo metadata lists every SDK crate kerf-aws uses"
    );
    ops
}

/// The `aws-sdk-*` crates kerf-aws depends on (its Cargo.toml `[dependencies]`).
fn kerf_aws_services() -> BTreeSet<String> {
    let manifest =
        std::fs::read_to_string(workspace_root().join("crates/kerf-aws/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap();
    let deps = deps.split("\n[").next().unwrap();
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("aws-sdk-"))
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .map(str::to_string)
        .collect()
}

/// Production code only: `testing.rs` (test seeding, feature `testing`), `tests.rs` modules
/// and everything from a file's `#[cfg(test)]` on (kerf's convention: tests last) are skipped.
fn production_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            production_sources(&path, out);
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy();
        if !name.ends_with(".rs") || name == "testing.rs" || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap().to_string();
        out.push((path, text));
    }
}

/// Every `.name()` call (no arguments: how an SDK client starts an operation) whose name is an
/// operation, as IAM actions. An operation name shared by two services is an error.
fn called_actions(source: &str, ops: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = source.as_bytes();
    for (i, _) in source.match_indices('.') {
        let ident: String = source[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = i + 1 + ident.len();
        if ident.is_empty()
            || !source[after..].starts_with("()")
            || bytes.get(i.wrapping_sub(1)) == Some(&b'.')
        {
            continue;
        }
        if let Some(actions) = ops.get(&ident) {
            assert_eq!(
                actions.len(),
                1,
                ".{ident}() is an operation of several services: {actions:?}"
            );
            found.extend(actions.iter().cloned());
        }
    }
    found
}

fn policy_actions() -> BTreeSet<String> {
    let ctx = Context {
        cluster: "c".into(),
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "111122223333".into(),
        oidc_issuer: "https://oidc.example/id/1".into(),
        service_account: ("karpenter".into(), "karpenter".into()),
    };
    granted_actions(&controller_policy(&ctx, true))
        .into_iter()
        .collect()
}

#[test]
fn the_controller_policy_grants_exactly_the_actions_kerf_calls() {
    let services = kerf_aws_services();
    assert!(
        services.contains("ec2") && services.contains("sqs"),
        "{services:?}"
    );
    let ops = sdk_operations(&services);
    let mut sources = Vec::new();
    // The provider, and the controller's AWS-only loops (interruption, node-class
    // status) in kerf-aws/src/controllers.
    let aws = workspace_root().join("crates/kerf-aws/src");
    assert!(aws.join("controllers").is_dir(), "{}", aws.display());
    production_sources(&aws, &mut sources);
    let mut called = BTreeSet::new();
    for (path, text) in &sources {
        let here = called_actions(text, &ops);
        if !here.is_empty() {
            eprintln!("{}: {here:?}", path.display());
        }
        called.extend(here);
    }
    assert!(
        called.len() >= 10,
        "the scan found too few calls to be real: {called:?}"
    );
    assert!(
        called.contains("ec2:CreateFleet") && called.contains("sqs:ReceiveMessage"),
        "{called:?}"
    );

    let granted = policy_actions();
    let extras: BTreeSet<String> = EXTRAS.iter().map(|(a, _)| a.to_string()).collect();
    let missing: Vec<_> = called.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "kerf calls these but the policy does not grant them: {missing:?}"
    );
    let unused: Vec<_> = granted
        .difference(&called)
        .filter(|a| !extras.contains(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "granted but never called (and not a justified extra): {unused:?}"
    );
    for extra in &extras {
        assert!(
            granted.contains(extra),
            "the justified extra {extra} is no longer granted: drop it from EXTRAS"
        );
        assert!(
            !called.contains(extra),
            "{extra} is called now: drop it from EXTRAS"
        );
    }
}

#[test]
fn the_scan_finds_calls_and_ignores_getters_and_arguments() {
    let ops = BTreeMap::from([
        (
            "describe_vpcs".to_string(),
            BTreeSet::from(["ec2:DescribeVpcs".to_string()]),
        ),
        (
            "get_parameter".to_string(),
            BTreeSet::from(["ssm:GetParameter".to_string()]),
        ),
        (
            "delete_tags".to_string(),
            BTreeSet::from(["ec2:DeleteTags".to_string()]),
        ),
    ]);
    let src = "let a = c.ec2\n    .describe_vpcs()\n    .send();\nssm.get_parameter().name(x);\n\
               b.delete_tags(x);\nlet n = ..describe_vpcs();";
    assert_eq!(
        called_actions(src, &ops),
        BTreeSet::from([
            "ec2:DescribeVpcs".to_string(),
            "ssm:GetParameter".to_string()
        ])
    );
}
