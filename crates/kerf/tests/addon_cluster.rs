//! End to end: the `kerf addon install` binary against moto (the AWS side, an EKS cluster
//! seeded with CreateCluster) and the REAL control plane with the REAL helm (the cluster
//! side), run in a real terminal (tmux) as a person runs it, where the step under way shows
//! on a progress line that is gone at the end: the seed's `kubectl get po -n karpenter` shows the controller and the webhook
//! Running (kwok runs them); the real `kerf webhook` refuses a bad Provisioner applied with
//! kubectl, naming the field; the default Provisioner from the seed's requirements map is
//! the seed's manifest; a second install reports every step unchanged.
//!
//! The API server reaches the webhook the way it does in a cluster: through the chart's
//! Service, its EndpointSlice (the webhook pods' IPs) and the certificate for the Service's
//! DNS name. kwok pods run no process, so the chart runs with `hostNetwork=true`, kwok gives
//! its Nodes (and so the host-network pods) this machine's IPv4 address, the API server
//! routes to endpoints (`--enable-aggregator-routing`, as with no kube-proxy), and the
//! `kerf webhook` process listens on that address and the pods' port. Fails, never skips,
//! without the binaries.
mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::addon::{
    NAMESPACE_WAIT, addon_install, control_plane, create_eks_cluster, critical_addons_only,
    start_webhook,
};
use common::tmux::{TerminalRun, command_line};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kerf_addon::aws::AwsClients;
use kerf_api::v1alpha5::Provisioner;
use kerf_aws::AwsSettings;
use kerf_testenv::{ControlPlane, MotoServer, wait_for};
use kube::api::{Api, ListParams};

const CLUSTER: &str = "eks-blueprint";

const BAD_OPERATOR: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: bad-operator}
spec:
  providerRef: {name: default}
  requirements:
    - {key: karpenter.sh/capacity-type, operator: Gte, values: [spot]}
"#;

async fn seed_eks(moto: &MotoServer) {
    let c = AwsClients::connect(&AwsSettings::local(moto.endpoint())).await;
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = c
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.1.0/24")
        .availability_zone("us-east-1c")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    create_eks_cluster(moto, CLUSTER, &subnet).await;
}

/// Reads the terminal of a running `kerf addon install` until it exits: its
/// exit status, each step its progress line named, and the final screen.
fn watch_progress(install: &TerminalRun) -> (String, Vec<String>, String) {
    const LABEL: &str = "kerf addon install: ";
    let started = Instant::now();
    let mut stages: Vec<String> = Vec::new();
    loop {
        let screen = install.tmux.screen();
        if let Some(status) = install.exit_status() {
            return (status, stages, install.tmux.screen());
        }
        assert!(
            started.elapsed() < INSTALL_WAIT,
            "kerf addon install still running after {INSTALL_WAIT:?}; screen:\n{screen}"
        );
        if let Some(line) = screen.lines().find(|l| l.contains(LABEL)) {
            let stage = line.split(LABEL).nth(1).unwrap_or_default();
            let stage = stage.split(" (").next().unwrap_or_default().to_string();
            if stages.last() != Some(&stage) {
                stages.push(stage);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How long the first install may take: the Helm release waits for the
/// controller and webhook pods.
const INSTALL_WAIT: Duration = Duration::from_secs(600);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The seed's Provisioner, read by the real kubectl (YAML to JSON) and typed.
fn seed_provisioner(plane: &ControlPlane) -> Provisioner {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed/provisioner.yaml");
    let json = plane
        .kubectl_ok([
            "create",
            "--dry-run=client",
            "-o",
            "json",
            "-f",
            path.to_str().unwrap(),
        ])
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerf_addon_install_with_moto_and_the_real_control_plane() {
    let moto = MotoServer::with_managed_policies().unwrap_or_else(|e| panic!("{e}"));
    seed_eks(&moto).await;
    let host = kerf_testenv::host_ipv4().unwrap_or_else(|e| panic!("{e}"));
    let plane = control_plane(host).await;
    kerf_testenv::add_system_nodes(&plane.client(), &[critical_addons_only()])
        .await
        .unwrap();
    let port = kerf_testenv::free_port().unwrap();

    // The first install as a person runs it: stderr on a terminal (tmux),
    // where the step under way shows on a progress line; the steps on stdout.
    let install = TerminalRun::start(
        "kerf-addon-install",
        plane.dir(),
        &command_line(&addon_install(&plane, &moto, CLUSTER, port)),
    );
    let namespaces: Api<Namespace> = Api::all(plane.client());
    wait_for("namespace karpenter", NAMESPACE_WAIT, || async {
        if let Some(status) = install.exit_status() {
            panic!(
                "kerf addon install exited ({status}) before creating the namespace:\n{}\nscreen:\n{}",
                install.stdout(),
                install.tmux.screen()
            );
        }
        namespaces.get_opt("karpenter").await.ok()?.map(|_| ())
    })
    .await
    .unwrap();
    let _webhook = start_webhook(&plane, host, port);
    let (status, stages, screen) = tokio::task::block_in_place(|| watch_progress(&install));
    let first = install.stdout();
    assert_eq!(
        status, "0",
        "kerf addon install failed:\n{first}\nscreen:\n{screen}"
    );
    assert!(
        stages.iter().any(|s| s.starts_with("helm:release ")),
        "the Helm release never showed as the step under way; stages seen: {stages:?}"
    );
    assert!(
        !screen.contains("kerf addon install:"),
        "the progress line was left behind:\n{screen}"
    );
    assert!(
        !first.contains("kerf addon install:"),
        "progress went to stdout"
    );
    for step in ["k8s:namespace", "helm:release", "k8s:default-provisioner"] {
        let line = first
            .lines()
            .find(|l| l.starts_with(step))
            .unwrap_or_else(|| panic!("{first}"));
        assert!(line.ends_with("created"), "{line}");
    }

    // The seed's check.
    let pods = kerf_testenv::running_pods(&plane, "karpenter", 4)
        .await
        .unwrap();
    let components: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["metadata"]["labels"]["app.kubernetes.io/component"].as_str())
        .collect();
    assert_eq!(components.iter().filter(|c| **c == "controller").count(), 2);
    assert_eq!(components.iter().filter(|c| **c == "webhook").count(), 2);
    let table = plane.kubectl_ok(["get", "po", "-n", "karpenter"]);
    eprintln!("{}", table.unwrap());

    // The chart got the AWS side's values.
    let sa = plane
        .kubectl_ok([
            "get",
            "sa",
            "karpenter",
            "-n",
            "karpenter",
            "-o",
            "jsonpath={.metadata.annotations}",
        ])
        .unwrap();
    assert!(
        sa.contains(&format!("role/KarpenterControllerRole-{CLUSTER}")),
        "{sa}"
    );

    // The default Provisioner from the seed's map: the seed's manifest, stored with the
    // webhook's AWS defaults filled in.
    let seed = seed_provisioner(&plane);
    let stored = Api::<Provisioner>::all(plane.client())
        .get("default")
        .await
        .unwrap();
    let mut defaulted = seed.clone();
    defaulted.set_defaults();
    assert_eq!(stored.spec, defaulted.spec);
    assert_eq!(
        stored.metadata.labels.unwrap()["kerf.sh/managed-by"],
        "kerf-addon"
    );

    // The API server calls the webhook through the Service, whose endpoints are the
    // webhook pods: this machine's address and the webhook's port.
    let hook = Api::<ValidatingWebhookConfiguration>::all(plane.client())
        .get("validation.webhook.karpenter.sh")
        .await
        .unwrap();
    let config = &hook.webhooks.unwrap()[0].client_config;
    assert!(config.url.is_none(), "{config:?}");
    assert_eq!(config.service.as_ref().unwrap().name, "kerf-webhook");
    let slices = Api::<EndpointSlice>::namespaced(plane.client(), "karpenter")
        .list(&ListParams::default().labels("kubernetes.io/service-name=kerf-webhook"))
        .await
        .unwrap();
    let endpoints: Vec<(String, i32)> = slices
        .items
        .iter()
        .flat_map(|s| {
            let port = s.ports.iter().flatten().find_map(|p| p.port).unwrap_or(0);
            s.endpoints
                .iter()
                .flat_map(move |e| e.addresses.iter().map(move |a| (a.clone(), port)))
        })
        .collect();
    assert_eq!(
        endpoints,
        vec![(host.to_string(), i32::from(port)); 2],
        "the webhook Service's endpoints"
    );

    // The webhook refuses a bad Provisioner applied with the real kubectl.
    let bad = plane.dir().join("bad-operator.yaml");
    std::fs::write(&bad, BAD_OPERATOR).unwrap();
    let out = plane
        .kubectl(["apply", "-f", bad.to_str().unwrap()])
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad operator was accepted");
    assert!(stderr.contains("spec.requirements[0].operator"), "{stderr}");

    // A second install changes nothing, on either side.
    let out = tokio::task::block_in_place(|| addon_install(&plane, &moto, CLUSTER, port).output())
        .unwrap();
    let second = text(&out);
    assert!(out.status.success(), "second install failed:\n{second}");
    let steps: Vec<&str> = second.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(steps.len() >= 3, "{second}");
    for line in steps {
        assert!(line.ends_with("unchanged"), "not a no-op: {line}\n{second}");
    }
}
