//! The Helm chart `charts/kerf`, checked with the REAL helm binary (built by
//! scripts/testbed-build.sh; these tests fail, never skip, without it):
//! `helm lint`, and `helm template` parsed and asserted object by object:
//! the cloud provider (aws unless kwok is asked for) and the RBAC each mode
//! gets, the disruption budgets, the pods' security contexts, the image
//! digest. Also: the chart's CRDs are exactly the generated ones, and its
//! webhook rules are exactly the ones the webhook serves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use kerf_testenv::Binaries;
use serde::Deserialize;
use serde_json::{Value, json};

const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/KarpenterControllerRole-test";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart() -> PathBuf {
    repo_root().join("charts/kerf")
}

/// Runs helm with its state in a throw-away directory; (success, stdout, stderr).
fn helm(args: &[&str]) -> (bool, String, String) {
    let helm = Binaries::locate()
        .and_then(|b| b.path("helm"))
        .expect("helm is built by scripts/testbed-build.sh");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(helm)
        .args(args)
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("run helm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn render(extra: &[&str]) -> Vec<Value> {
    let chart = chart().display().to_string();
    let mut args = vec!["template", "kerf", &chart];
    args.extend(extra);
    let (ok, stdout, stderr) = helm(&args);
    assert!(ok, "helm template {extra:?} failed: {stderr}");
    serde_yaml::Deserializer::from_str(&stdout)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn irsa_flag() -> String {
    format!("serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={ROLE_ARN}")
}

#[test]
fn helm_lint_passes() {
    let chart = chart().display().to_string();
    let (ok, stdout, stderr) = helm(&["lint", "--strict", &chart]);
    assert!(ok, "helm lint failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{stdout}"
    );
}

#[test]
fn controller_deployment_is_highly_available_and_off_managed_nodes() {
    let irsa = irsa_flag();
    let objects = render(&[
        "-n",
        "karpenter",
        "--set",
        &irsa,
        "--set",
        "settings.clusterName=test",
    ]);
    let deploy = find(&objects, "Deployment", "kerf");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["serviceAccountName"], "karpenter");

    let terms = &pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    assert_eq!(
        terms,
        &json!([{"matchExpressions": [
            {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
            {"key": "karpenter.sh/provisioner-name", "operator": "DoesNotExist"}
        ]}])
    );
    let pod_labels = &deploy["spec"]["template"]["metadata"]["labels"];
    let anti =
        &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(&anti["labelSelector"]["matchLabels"], pod_labels);
    let spread = &pod["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "topology.kubernetes.io/zone");
    assert_eq!(spread["maxSkew"], 1);
    assert_eq!(&spread["labelSelector"]["matchLabels"], pod_labels);

    let container = &pod["containers"][0];
    let env: Vec<(String, Value)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].clone()))
        .collect();
    let value = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no env {name}"))
    };
    assert_eq!(value("LEADER_ELECT"), "true");
    // The Lease `kerf controller` uses (it does not read this variable).
    assert_eq!(value("LEADER_ELECTION_ID"), "kerf-leader-election");
    assert_eq!(value("CLUSTER_NAME"), "test");
    assert_eq!(value("BATCH_MAX_DURATION"), "10s");
    assert_eq!(value("BATCH_IDLE_DURATION"), "1s");
    for setting in [
        "CLUSTER_ENDPOINT",
        "AWS_DEFAULT_INSTANCE_PROFILE",
        "INTERRUPTION_QUEUE",
    ] {
        value(setting);
    }
    assert_eq!(container["args"][0], "controller");
    assert!(container["resources"]["requests"]["cpu"].is_string());

    // PDB: one at a time, selecting exactly the controller pods.
    let pdb = find(&objects, "PodDisruptionBudget", "kerf");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], pod_labels);

    // Metrics Service selects the controller and targets the metrics port.
    let metrics = find(&objects, "Service", "kerf-metrics");
    assert_eq!(&metrics["spec"]["selector"], pod_labels);
    assert_eq!(metrics["spec"]["ports"][0]["port"], 8080);
}

#[test]
fn every_namespaced_object_is_in_karpenter_and_the_irsa_annotation_is_set() {
    let irsa = irsa_flag();
    for extra in [vec!["-n", "karpenter"], vec![]] {
        let mut args = extra.clone();
        args.extend(["--set", irsa.as_str()]);
        let objects = render(&args);
        let cluster_scoped = [
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ];
        for o in &objects {
            let kind = o["kind"].as_str().unwrap();
            if cluster_scoped.contains(&kind) {
                assert!(
                    o["metadata"]["namespace"].is_null(),
                    "{kind} has a namespace"
                );
            } else {
                assert_eq!(
                    o["metadata"]["namespace"], "karpenter",
                    "{kind} with {extra:?}"
                );
            }
        }
        let sa = find(&objects, "ServiceAccount", "karpenter");
        assert_eq!(
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            ROLE_ARN
        );
    }
    // An explicit other namespace is honoured.
    let objects = render(&["-n", "kube-system"]);
    assert_eq!(
        find(&objects, "Deployment", "kerf")["metadata"]["namespace"],
        "kube-system"
    );
}

#[test]
fn webhook_configurations_route_the_four_kinds_to_the_webhook_service() {
    let objects = render(&["-n", "karpenter"]);
    let rules = serde_json::to_value(kerf_webhook::configurations::rules()).unwrap();
    let service = find(&objects, "Service", "kerf-webhook");
    let webhook = find(&objects, "Deployment", "kerf-webhook");
    assert_eq!(webhook["spec"]["replicas"], 2);
    assert_eq!(
        &service["spec"]["selector"],
        &webhook["spec"]["template"]["metadata"]["labels"]
    );
    let args = &webhook["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "webhook");
    let mut kinds = BTreeSet::new();
    for (kind, name, path) in [
        (
            "ValidatingWebhookConfiguration",
            "validation.webhook.karpenter.sh",
            "/validate",
        ),
        (
            "MutatingWebhookConfiguration",
            "defaulting.webhook.karpenter.sh",
            "/mutate",
        ),
    ] {
        let config = find(&objects, kind, name);
        let hook = &config["webhooks"][0];
        assert_eq!(
            hook["rules"], rules,
            "{kind} rules differ from the webhook's"
        );
        assert_eq!(hook["failurePolicy"], "Fail");
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
        let svc = &hook["clientConfig"]["service"];
        assert_eq!(svc["name"], "kerf-webhook");
        assert_eq!(svc["namespace"], "karpenter");
        assert_eq!(svc["path"], path);
        assert_eq!(svc["port"], service["spec"]["ports"][0]["port"]);
        // The CRDs' conversion keeps its port (the webhook rewrites only the
        // Service's namespace and name): it must be the chart's.
        assert_eq!(
            json!(kerf_api::crds::CONVERSION_SERVICE.3),
            service["spec"]["ports"][0]["port"]
        );
        for rule in hook["rules"].as_array().unwrap() {
            kinds.insert(rule["resources"][0].as_str().unwrap().to_string());
        }
        // The process patches the same configurations it is told about.
        assert!(
            args.as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().ends_with(&format!("={name}")))
        );
    }
    assert_eq!(
        kinds,
        BTreeSet::from(
            [
                "awsnodetemplates",
                "ec2nodeclasses",
                "nodepools",
                "provisioners"
            ]
            .map(String::from)
        )
    );
}

fn rule_set(role: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    out.insert((
                        group.as_str().unwrap().to_string(),
                        resource.as_str().unwrap().to_string(),
                        verb.as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn controller_rbac_is_exactly_what_it_uses() {
    let objects = render(&["-n", "karpenter"]);
    let role = find(&objects, "ClusterRole", "kerf");
    let granted = rule_set(role);
    assert!(!role["rules"].to_string().contains('*'), "wildcard granted");
    let resources: BTreeSet<&str> = granted.iter().map(|(_, r, _)| r.as_str()).collect();
    assert_eq!(
        resources,
        BTreeSet::from([
            "pods",
            "pods/eviction",
            "nodes",
            "nodeclaims",
            "nodepools",
            "provisioners",
            "ec2nodeclasses",
            "awsnodetemplates",
            "daemonsets",
            "replicasets",
            "poddisruptionbudgets",
            "persistentvolumeclaims",
            "persistentvolumes",
            "storageclasses",
            "namespaces",
            "events",
            "nodeclaims/status",
            "nodepools/status",
            "provisioners/status",
            "ec2nodeclasses/status",
            "awsnodetemplates/status",
        ])
    );
    let has = |g: &str, r: &str, v: &str| granted.contains(&(g.into(), r.into(), v.into()));
    assert!(has("", "pods/eviction", "create"));
    assert!(has("", "nodes", "delete") && has("karpenter.sh", "nodeclaims", "create"));
    // The aws provider (the default) never creates Nodes, and kerf binds no
    // pods unless settings.bindPods says so.
    assert!(!has("", "nodes", "create") && !has("", "pods/binding", "create"));
    // Pods: patched for their deletion cost (podDeletionCostManagement, on
    // by default), never created, updated or deleted.
    assert!(has("", "pods", "patch"));
    for v in ["create", "update", "delete"] {
        assert!(!has("", "pods", v), "{v} pods granted");
    }
    // Read-only inputs stay read-only; kerf never deletes its pools.
    for (g, r) in [
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("policy", "poddisruptionbudgets"),
        ("", "persistentvolumes"),
        ("storage.k8s.io", "storageclasses"),
        ("", "namespaces"),
    ] {
        for v in ["create", "update", "patch", "delete"] {
            assert!(!has(g, r, v), "{v} {r} granted");
        }
    }
    assert!(
        !has("karpenter.sh", "nodepools", "delete")
            && !has("karpenter.sh", "provisioners", "create")
    );
    let binding = find(&objects, "ClusterRoleBinding", "kerf");
    assert_eq!(binding["subjects"][0]["name"], "karpenter");
    assert_eq!(binding["subjects"][0]["namespace"], "karpenter");

    // Leases only in the namespace, updates only of kerf's own Lease.
    let lease_role = find(&objects, "Role", "kerf");
    let named = lease_role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["verbs"].as_array().unwrap().contains(&json!("update")))
        .unwrap();
    assert_eq!(named["resources"], json!(["leases"]));
    assert_eq!(named["resourceNames"], json!(["kerf-leader-election"]));
}

fn crd_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn chart_crds_are_the_generated_ones() {
    let mut generated = kerf_api::crds::files().unwrap();
    generated.sort();
    assert_eq!(
        crd_files(&chart().join("crds")),
        generated,
        "charts/kerf/crds/ is stale: copy crates/kerf-api/crds/*.yaml (regenerated with \
         cargo run -p kerf-api --example gen-crds) into it"
    );
    assert_eq!(
        crd_files(&repo_root().join("crates/kerf-api/crds")),
        generated
    );

    // helm ships them with --include-crds.
    let objects = render(&["-n", "karpenter", "--include-crds"]);
    let crds: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        crds,
        BTreeSet::from([
            "awsnodetemplates.karpenter.k8s.aws",
            "ec2nodeclasses.karpenter.k8s.aws",
            "nodeclaims.karpenter.sh",
            "nodepools.karpenter.sh",
            "provisioners.karpenter.sh",
        ])
    );
}

#[test]
fn host_network_puts_both_deployments_on_the_node_network() {
    for (set, expected) in [(None, None), (Some("hostNetwork=true"), Some(true))] {
        let mut args = vec!["-n", "karpenter"];
        if let Some(set) = set {
            args.extend(["--set", set]);
        }
        let objects = render(&args);
        for name in ["kerf", "kerf-webhook"] {
            let pod = &find(&objects, "Deployment", name)["spec"]["template"]["spec"];
            assert_eq!(
                pod["hostNetwork"].as_bool(),
                expected,
                "{name} with {set:?}"
            );
            // Service DNS from the host network needs the ClusterFirstWithHostNet policy.
            let dns = expected.map(|_| "ClusterFirstWithHostNet");
            assert_eq!(pod["dnsPolicy"].as_str(), dns, "{name} with {set:?}");
        }
    }
}

/// The controller's environment as (name, value); valueFrom entries are left out.
fn controller_env(objects: &[Value]) -> Vec<(String, String)> {
    find(objects, "Deployment", "kerf")["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn the_aws_provider_runs_by_default_and_kwok_only_when_asked_for() {
    let env = controller_env(&render(&["-n", "karpenter"]));
    assert_eq!(env_value(&env, "KERF_CLOUD_PROVIDER"), Some("aws"));
    // Nothing that would shadow the region the pod identity webhook injects,
    // and no binding unless asked for.
    assert_eq!(env_value(&env, "AWS_REGION"), None);
    assert_eq!(env_value(&env, "KERF_BIND_PODS"), None);
    // The values kerf's controller_config test feeds the binary.
    assert_eq!(
        env_value(&env, "FEATURE_GATES"),
        Some("SpotToSpotConsolidation=false,PodDeletionCostManagement=true")
    );
    assert_eq!(
        env_value(&env, "KERF_DISRUPTION_VALIDATION_DELAY"),
        Some("15s")
    );
    let gates = controller_env(&render(&[
        "-n",
        "karpenter",
        "--set",
        "settings.featureGates.spotToSpotConsolidation=true",
        "--set",
        "settings.featureGates.podDeletionCostManagement=false",
    ]));
    assert_eq!(
        env_value(&gates, "FEATURE_GATES"),
        Some("SpotToSpotConsolidation=true,PodDeletionCostManagement=false")
    );

    let env = controller_env(&render(&[
        "-n",
        "karpenter",
        "--set",
        "settings.awsRegion=eu-west-1",
        "--set",
        "settings.bindPods=true",
    ]));
    assert_eq!(env_value(&env, "AWS_REGION"), Some("eu-west-1"));
    assert_eq!(env_value(&env, "KERF_BIND_PODS"), Some("true"));

    let env = controller_env(&render(&[
        "-n",
        "karpenter",
        "--set",
        "settings.cloudProvider=kwok",
    ]));
    assert_eq!(env_value(&env, "KERF_CLOUD_PROVIDER"), Some("kwok"));
}

#[test]
fn an_unknown_cloud_provider_or_bad_setting_fails_the_render_naming_it() {
    let chart = chart().display().to_string();
    for (set, expected) in [
        (
            "settings.cloudProvider=gce",
            r#"settings.cloudProvider must be aws or kwok, not "gce""#,
        ),
        (
            // The binary's in-memory provider is not an install option.
            "settings.cloudProvider=memory",
            r#"settings.cloudProvider must be aws or kwok, not "memory""#,
        ),
        (
            "settings.cloudProvider=",
            r#"settings.cloudProvider must be aws or kwok, not """#,
        ),
        (
            "settings.bindPods=yes",
            r#"settings.bindPods must be true or false, not "yes""#,
        ),
        (
            "settings.featureGates.podDeletionCostManagement=maybe",
            r#"settings.featureGates.podDeletionCostManagement must be true or false, not "maybe""#,
        ),
        (
            "image.digest=latest",
            r#"image.digest must be a digest such as sha256:<64 hex digits>, not "latest""#,
        ),
    ] {
        let (ok, _, stderr) = helm(&["template", "kerf", &chart, "--set", set]);
        assert!(!ok, "{set} rendered");
        assert!(stderr.contains(expected), "{set}: {stderr}");
    }
}

#[test]
fn controller_rbac_follows_the_provider_and_binding_mode() {
    let granted = |extra: &[&str]| {
        let mut args = vec!["-n", "karpenter"];
        args.extend(extra);
        let objects = render(&args);
        let mut rules = rule_set(find(&objects, "ClusterRole", "kerf"));
        // Namespaced grants, as (namespace/group, resource, verb).
        for role in objects.iter().filter(|o| {
            o["kind"] == "Role"
                && o["metadata"]["name"].as_str().unwrap().starts_with("kerf")
                && o["metadata"]["name"] != "kerf-webhook"
        }) {
            let ns = role["metadata"]["namespace"].as_str().unwrap();
            for (g, r, v) in rule_set(role) {
                rules.insert((format!("{ns}/{g}"), r, v));
            }
        }
        rules
    };
    let has = |rules: &BTreeSet<(String, String, String)>, g: &str, r: &str, v: &str| {
        rules.contains(&(g.into(), r.into(), v.into()))
    };

    let aws = granted(&[]);
    assert!(!has(&aws, "", "nodes", "create"));
    assert!(!has(&aws, "", "nodes", "get") && !has(&aws, "", "nodes", "update"));
    assert!(!has(&aws, "", "pods/binding", "create"));
    assert!(
        !aws.iter().any(|(_, r, _)| r == "configmaps"),
        "configmaps granted without kwok"
    );
    // The aws provider keeps its node classes' status and finalizer.
    assert!(has(&aws, "karpenter.k8s.aws", "ec2nodeclasses", "patch"));
    assert!(has(
        &aws,
        "karpenter.k8s.aws",
        "ec2nodeclasses/status",
        "patch"
    ));
    assert!(has(
        &aws,
        "karpenter.k8s.aws",
        "awsnodetemplates/status",
        "patch"
    ));
    // kube-runtime's Recorder writes events.k8s.io Events, not core ones.
    assert!(has(&aws, "events.k8s.io", "events", "create"));
    assert!(!has(&aws, "", "events", "create"));
    // The leader Lease is read and replaced, never watched or patched.
    assert!(has(
        &aws,
        "karpenter/coordination.k8s.io",
        "leases",
        "update"
    ));
    assert!(!has(
        &aws,
        "karpenter/coordination.k8s.io",
        "leases",
        "patch"
    ));

    let untouched = granted(&[
        "--set",
        "settings.featureGates.podDeletionCostManagement=false",
    ]);
    assert!(!has(&untouched, "", "pods", "patch"));
    assert!(has(&untouched, "", "pods", "watch"));

    let kwok = granted(&["--set", "settings.cloudProvider=kwok"]);
    assert!(has(&kwok, "", "nodes", "create") && has(&kwok, "", "nodes", "get"));
    assert!(!has(&kwok, "", "pods/binding", "create"));
    // Its booting-instance ConfigMap, in kube-system, by name.
    assert!(has(&kwok, "kube-system/", "configmaps", "get"));
    assert!(has(&kwok, "kube-system/", "configmaps", "create"));
    assert!(!has(&kwok, "karpenter.k8s.aws", "ec2nodeclasses", "patch"));
    let objects = render(&["-n", "karpenter", "--set", "settings.cloudProvider=kwok"]);
    let booting = find(&objects, "Role", "kerf-kwok");
    assert_eq!(
        booting["rules"][1]["resourceNames"],
        json!(["kerf-kwok-booting"])
    );
    let binding = find(&objects, "RoleBinding", "kerf-kwok");
    assert_eq!(binding["metadata"]["namespace"], "kube-system");
    assert_eq!(binding["subjects"][0]["name"], "karpenter");
    assert_eq!(binding["subjects"][0]["namespace"], "karpenter");

    let binds = granted(&["--set", "settings.bindPods=true"]);
    assert!(has(&binds, "", "pods/binding", "create"));
    assert!(!has(&binds, "", "nodes", "create"));
}

#[test]
fn the_webhook_has_a_disruption_budget() {
    let objects = render(&["-n", "karpenter"]);
    let pdb = find(&objects, "PodDisruptionBudget", "kerf-webhook");
    assert_eq!(pdb["metadata"]["namespace"], "karpenter");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    let webhook = find(&objects, "Deployment", "kerf-webhook");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        webhook["spec"]["template"]["metadata"]["labels"]
    );

    let objects = render(&[
        "-n",
        "karpenter",
        "--set",
        "webhook.podDisruptionBudget.maxUnavailable=0",
    ]);
    let pdb = find(&objects, "PodDisruptionBudget", "kerf-webhook");
    assert_eq!(pdb["spec"]["maxUnavailable"], 0);

    let objects = render(&["-n", "karpenter", "--set", "webhook.enabled=false"]);
    let pdbs: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "PodDisruptionBudget")
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(pdbs, ["kerf"]);
}

#[test]
fn every_pod_template_has_the_restricted_security_context() {
    for extra in [
        vec![],
        vec!["--set", "settings.cloudProvider=kwok"],
        vec!["--set", "settings.bindPods=true"],
    ] {
        let mut args = vec!["-n", "karpenter"];
        args.extend(extra.iter().copied());
        let objects = render(&args);
        let templates: Vec<(&str, &Value)> = objects
            .iter()
            .filter(|o| !o["spec"]["template"]["spec"].is_null())
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap(),
                    &o["spec"]["template"]["spec"],
                )
            })
            .collect();
        let names: BTreeSet<&str> = templates.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, BTreeSet::from(["kerf", "kerf-webhook"]), "{extra:?}");
        for (name, pod) in templates {
            let sc = &pod["securityContext"];
            assert_eq!(sc["runAsNonRoot"], true, "{name}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            assert!(pod["hostNetwork"].is_null(), "{name}");
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
                assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{name}");
                assert_eq!(sc["runAsNonRoot"], true, "{name}");
            }
        }
    }
}

#[test]
fn an_image_digest_pins_both_deployments() {
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let set = format!("image.digest={digest}");
    let objects = render(&[
        "-n",
        "karpenter",
        "--set",
        "image.repository=registry.example/kerf",
        "--set",
        "image.tag=ignored",
        "--set",
        &set,
    ]);
    for name in ["kerf", "kerf-webhook"] {
        let image = &find(&objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
            [0]["image"];
        assert_eq!(image, &json!(format!("registry.example/kerf@{digest}")));
    }
    // Without a digest: repository:tag, the tag defaulting to appVersion.
    let objects = render(&["-n", "karpenter", "--set", "image.tag=v9"]);
    let image =
        &find(&objects, "Deployment", "kerf")["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, "public.ecr.aws/kerf/kerf:v9");
}
