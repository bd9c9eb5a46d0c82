//! Controller behaviour beyond the walk-through, against the same real parts
//! (control plane, kwok, the `kerf controller` binary, kubectl): a restart
//! between NodeClaim creation and launch, termination through the Eviction
//! API with a PDB, and two replicas with leader election. Fails (never
//! skips) when the control-plane binaries are missing.

mod common;

use std::time::Duration;

use common::*;

/// Kill the controller after it recorded its NodeClaims but before any launch
/// finished (launches take 5 s here); the restarted controller launches each
/// claim exactly once and provisions nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_claim_and_launch_launches_each_claim_once() {
    let plane = cluster(true).await;
    apply_seed(&plane);

    let first = start_controller(&plane, false, &["--kwok-launch-delay", "5s"]);
    scale_inflate(&plane, 10);
    let claims = wait(
        &plane,
        "2 NodeClaims recorded",
        Duration::from_secs(60),
        || {
            let c = claim_names(&plane);
            (c.len() == 2).then_some(c)
        },
    );
    assert!(
        kerf_nodes(&plane).is_empty(),
        "killed before any launch finished"
    );
    drop(first);
    let unlaunched = kubectl(
        &plane,
        &[
            "get",
            "nodeclaims",
            "-o",
            "jsonpath={.items[*].status.providerID}",
        ],
    );
    assert!(
        unlaunched.trim().is_empty(),
        "no claim launched yet: {unlaunched}"
    );

    let _second = start_controller(&plane, false, &[]);
    wait(
        &plane,
        "10 inflate pods Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 10).then_some(()),
    );
    // Give a second pass the chance to (wrongly) add capacity.
    std::thread::sleep(Duration::from_secs(3));
    let mut nodes = kerf_nodes(&plane);
    nodes.sort();
    let mut after = claim_names(&plane);
    after.sort();
    let mut before = claims.clone();
    before.sort();
    assert_eq!(after, before, "the restarted controller made no new claims");
    assert_eq!(nodes, before, "exactly one node per claim, named after it");
    let ids = kubectl(
        &plane,
        &[
            "get",
            "nodeclaims",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.providerID}{\"\\n\"}{end}",
        ],
    );
    for line in ids.lines() {
        let (name, id) = line.split_once('=').expect("name=providerID");
        assert_eq!(id, format!("kwok://{name}"), "{ids}");
    }
}

/// Kill the controller after its claims launched (provider IDs recorded) but
/// before their Nodes registered (the kwok instances "boot" for 8 s); the
/// restarted controller waits for the same instances to register: exactly
/// one Node per claim, no new claims, every pod Running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_launch_and_registration_keeps_one_node_per_claim() {
    let plane = cluster(true).await;
    apply_seed(&plane);
    let booting = ["--kwok-registration-delay", "8s"];
    let first = start_controller(&plane, false, &booting);
    scale_inflate(&plane, 10);
    let provider_ids = || {
        kubectl(
            &plane,
            &[
                "get",
                "nodeclaims",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.status.providerID}{\"\\n\"}{end}",
            ],
        )
    };
    let launched = wait(
        &plane,
        "2 NodeClaims Launched",
        Duration::from_secs(60),
        || {
            let ids = provider_ids();
            let launched: Vec<String> = ids
                .lines()
                .filter_map(|l| l.split_once('='))
                .filter(|(_, id)| !id.is_empty())
                .map(|(n, _)| n.to_string())
                .collect();
            (launched.len() == 2).then_some(launched)
        },
    );
    drop(first);
    assert!(
        kerf_nodes(&plane).is_empty(),
        "killed before any node registered"
    );

    let second = start_controller(&plane, false, &booting);
    wait(
        &plane,
        "10 inflate pods Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 10).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    let mut before = launched.clone();
    before.sort();
    let mut claims = claim_names(&plane);
    claims.sort();
    let mut nodes = kerf_nodes(&plane);
    nodes.sort();
    assert_eq!(claims, before, "no new claims after the restart");
    assert_eq!(nodes, before, "exactly one node per claim, named after it");
    for line in provider_ids().lines() {
        let (name, id) = line.split_once('=').expect("name=providerID");
        assert_eq!(id, format!("kwok://{name}"));
    }
    wait(
        &plane,
        "both claims Initialized",
        Duration::from_secs(30),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "nodeclaims",
                    "-o",
                    "jsonpath={.items[*].status.conditions[?(@.type==\"Initialized\")].status}",
                ],
            );
            (lines(&out) == ["True", "True"]).then_some(())
        },
    );
    // The instances the first process launched registered under the second.
    let registered = json_log_lines(&second)
        .iter()
        .filter(|l| l["message"] == "booting kwok node registered")
        .count();
    assert_eq!(registered, 2);
}

/// Deleting a NodeClaim drains its node through the Eviction API: while a PDB
/// allows no disruption the evictions are refused (429) and the node stays,
/// cordoned; once the PDB is gone the pods are evicted, kerf provisions a
/// node for their replacements, and the old node is terminated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termination_evicts_through_the_eviction_api_and_respects_pdbs() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply_seed(&plane);
    scale_inflate(&plane, 10);
    wait(
        &plane,
        "10 inflate pods Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 10).then_some(()),
    );

    let pdb = write(
        plane.dir(),
        "pdb.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: inflate}\nspec:\n  minAvailable: 10\n  selector:\n    matchLabels: {app: inflate}\n",
    );
    kubectl(&plane, &["apply", "-f", pdb.to_str().expect("utf-8")]);
    wait(
        &plane,
        "the PDB to be observed",
        Duration::from_secs(60),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "pdb",
                    "inflate",
                    "-o",
                    "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}",
                ],
            );
            (out.trim() == "10/0").then_some(())
        },
    );

    let victim = claim_names(&plane).into_iter().next().expect("a claim");
    let on_victim = running_inflate_pods(&plane)
        .into_iter()
        .filter(|(_, n)| *n == victim)
        .count();
    assert!(on_victim > 0, "pods run on {victim}");
    // Someone else's taint: cordoning must add kerf's, not replace the list
    // (a Node's taints are an atomic list, which a patch replaces whole).
    kubectl(
        &plane,
        &[
            "taint",
            "node",
            &victim,
            "example.com/maintenance=soon:PreferNoSchedule",
        ],
    );
    kubectl(&plane, &["delete", "nodeclaim", &victim, "--wait=false"]);
    wait(
        &plane,
        "the node to be cordoned",
        Duration::from_secs(30),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "node",
                    &victim,
                    "-o",
                    "jsonpath={.spec.unschedulable}",
                ],
            );
            (out.trim() == "true").then_some(())
        },
    );
    let taints = kubectl(
        &plane,
        &[
            "get",
            "node",
            &victim,
            "-o",
            "jsonpath={range .spec.taints[*]}{.key}={.effect} {end}",
        ],
    );
    for taint in [
        "example.com/maintenance=PreferNoSchedule",
        "karpenter.sh/disrupted=NoSchedule",
    ] {
        assert!(
            taints.split_whitespace().any(|t| t == taint),
            "{taint} on the draining node: {taints}"
        );
    }
    std::thread::sleep(Duration::from_secs(5));
    let still = running_inflate_pods(&plane)
        .into_iter()
        .filter(|(_, n)| *n == victim)
        .count();
    assert_eq!(still, on_victim, "the PDB refuses every eviction");
    assert!(
        kerf_nodes(&plane).contains(&victim),
        "the node waits for its pods"
    );

    kubectl(&plane, &["delete", "pdb", "inflate"]);
    wait(
        &plane,
        "the drained node to be gone",
        Duration::from_secs(90),
        || (!kerf_nodes(&plane).contains(&victim)).then_some(()),
    );
    let pods = wait(
        &plane,
        "10 pods Running again",
        Duration::from_secs(90),
        || {
            let pods = running_inflate_pods(&plane);
            (pods.len() == 10).then_some(pods)
        },
    );
    assert!(pods.iter().all(|(_, n)| *n != victim), "{pods:?}");
    let nodes = kerf_nodes(&plane);
    assert_eq!(
        nodes.len(),
        2,
        "a replacement node for the evicted pods: {nodes:?}"
    );
}

/// Two replicas with leader election: one holds the Lease and provisions, the
/// other only watches (no double launch); killing the leader hands the Lease
/// to the other, which then provisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_and_failover() {
    let plane = cluster(true).await;
    let args = ["--leader-elect", "--leader-election-lease-duration", "4s"];
    let a = start_controller(&plane, false, &args);
    let b = start_controller(&plane, false, &args);
    let holder = wait(&plane, "a lease holder", Duration::from_secs(30), || {
        Some(lease_holder(&plane)).filter(|h| !h.is_empty())
    });
    let (leader, standby) = if holder.ends_with(&format!("_{}", a.child.id())) {
        (a, b)
    } else {
        assert!(holder.ends_with(&format!("_{}", b.child.id())), "{holder}");
        (b, a)
    };

    apply_seed(&plane);
    scale_inflate(&plane, 10);
    wait(
        &plane,
        "10 inflate pods Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 10).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(claim_names(&plane).len(), 2, "only the leader provisioned");
    let standby_log = std::fs::read_to_string(&standby.log).unwrap_or_default();
    assert!(!standby_log.contains("provisioning pass"), "{standby_log}");

    drop(leader);
    let new_holder = wait(
        &plane,
        "the standby to take the lease",
        Duration::from_secs(30),
        || Some(lease_holder(&plane)).filter(|h| h.ends_with(&format!("_{}", standby.child.id()))),
    );
    assert_ne!(new_holder, holder);
    scale_inflate(&plane, 20);
    wait(
        &plane,
        "20 inflate pods Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 20).then_some(()),
    );
    assert!(claim_names(&plane).len() >= 3, "the new leader provisioned");
    drop(standby);
}

/// The termination finalizer is kerf's alone to remove: a finalizer another
/// controller put on the NodeClaim and on its Node stays through kerf's
/// cordon, drain and release, and holds both objects until its owner lets go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_someone_else_added_survives_termination() {
    const THEIRS: &str = "example.com/keep";
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply_seed(&plane);
    scale_inflate(&plane, 1);
    wait(
        &plane,
        "1 inflate pod Running",
        Duration::from_secs(120),
        || (running_inflate_pods(&plane).len() == 1).then_some(()),
    );
    let victim = claim_names(&plane).into_iter().next().expect("a claim");
    let finalizers = |kind: &str| {
        kubectl(
            &plane,
            &[
                "get",
                kind,
                &victim,
                "-o",
                "jsonpath={.metadata.finalizers}",
            ],
        )
    };
    // kerf registered the node with its finalizer; the other writer appends its own.
    wait(
        &plane,
        "kerf's finalizer on the node",
        Duration::from_secs(30),
        || {
            finalizers("node")
                .contains("karpenter.sh/termination")
                .then_some(())
        },
    );
    let append = format!(r#"[{{"op":"add","path":"/metadata/finalizers/-","value":"{THEIRS}"}}]"#);
    for kind in ["nodeclaim", "node"] {
        kubectl(
            &plane,
            &["patch", kind, &victim, "--type=json", "-p", &append],
        );
    }

    scale_inflate(&plane, 0);
    kubectl(&plane, &["delete", "nodeclaim", &victim, "--wait=false"]);
    for kind in ["nodeclaim", "node"] {
        let left = wait(
            &plane,
            &format!("kerf to release the {kind}"),
            Duration::from_secs(90),
            || {
                let f = finalizers(kind);
                (!f.contains("karpenter.sh/termination")).then_some(f)
            },
        );
        assert!(
            left.contains(THEIRS),
            "{kind} lost the other finalizer: {left}"
        );
    }
    // Only the other writer's finalizer holds them now.
    let remove = r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#;
    for kind in ["nodeclaim", "node"] {
        assert_eq!(finalizers(kind), format!(r#"["{THEIRS}"]"#), "{kind}");
        kubectl(
            &plane,
            &["patch", kind, &victim, "--type=json", "-p", remove],
        );
    }
    wait(
        &plane,
        "the claim and node to be gone",
        Duration::from_secs(30),
        || (claim_names(&plane).is_empty() && !kerf_nodes(&plane).contains(&victim)).then_some(()),
    );
}

/// Garbage collection is the controller's, for every provider: with kwok, a
/// Node with kwok's provider ID that no NodeClaim knows (a leak) is removed
/// after the grace period, while a node the provider did not make stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_removes_a_leaked_kwok_node() {
    let plane = cluster(false).await;
    let controller = start_controller(
        &plane,
        false,
        &["--gc-interval", "1s", "--gc-grace-period", "2s"],
    );
    let node = |name: &str, provider_id: Option<&str>| {
        let mut spec = serde_json::json!({});
        if let Some(p) = provider_id {
            spec["providerID"] = p.into();
        }
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "spec": spec,
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        })
        .to_string()
    };
    for (name, pid) in [("leaked-1", Some("kwok://leaked-1")), ("system-1", None)] {
        let path = write(plane.dir(), &format!("{name}.json"), &node(name, pid));
        kubectl(&plane, &["create", "-f", path.to_str().unwrap()]);
    }
    let names = || {
        lines(&kubectl(
            &plane,
            &["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"],
        ))
    };
    wait(
        &plane,
        "the leaked node to be collected",
        Duration::from_secs(60),
        || (!names().contains(&"leaked-1".to_string())).then_some(()),
    );
    assert!(names().contains(&"system-1".to_string()), "{:?}", names());
    let text = http_get(controller.metrics_port, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default();
    assert_eq!(
        metric(&text, "kerf_garbage_collected_instances_total"),
        Some(1.0),
        "{text}"
    );
}
