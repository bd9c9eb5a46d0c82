//! The AWS loops of `kerf controller --cloud-provider aws`, end to end with
//! real parts only: moto_server (EC2, SSM, SQS), a kerf-testenv control plane
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), the
//! real `kerf` binary and kubectl. The test is the kubelet: it registers a Node
//! for each instance kerf launched (see `common::moto::register_node`).
//!
//! One control plane serves three checks, to keep CI short:
//! - interruption: a spot interruption warning sent to the SQS queue in
//!   EventBridge's shape deletes the NodeClaim, the node is drained and
//!   removed, the instance terminated, and the pods run again on a replacement
//!   that is not the interrupted offering; the message is deleted and counted;
//!   a malformed message is deleted and counted too;
//! - garbage collection: an instance kerf launched for the cluster (its
//!   ownership tag) that no NodeClaim knows is terminated after the grace
//!   period; another cluster's is left, and so is one tagged as an EKS managed
//!   node group's (`kubernetes.io/cluster/<cluster>: owned` without kerf's tag);
//!   a NodeClaim whose instance vanished is deleted, and its Node with it;
//! - node-class status: an EC2NodeClass gets its subnets, security groups,
//!   AMIs and a Ready condition through the status subresource.
//!
//! Fails (never skips) when moto_server or the control-plane binaries are missing.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use common::moto::{self, NODECLAIM_TAG, instance_state, instances, node_name, seed, tag};
use common::*;
use kerf_testenv::ControlPlane;

const CLUSTER: &str = "kerf-e2e";
const QUEUE: &str = "kerf-e2e-interruption";
const REPLICAS: usize = 3;

fn spot_warning(zone: &str, instance: &str) -> String {
    serde_json::json!({
        "version": "0",
        "id": "7c7d1e2e-0000-4000-8000-000000000001",
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:{zone}:instance/{instance}")],
        "detail": {"instance-id": instance, "instance-action": "terminate"},
    })
    .to_string()
}

async fn queue_depth(aws: &kerf_aws::Clients, url: &str) -> i64 {
    let out = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    out.attributes()
        .into_iter()
        .flat_map(|a| a.values())
        .filter_map(|v| v.parse::<i64>().ok())
        .sum()
}

/// Registers Nodes for launched instances until `want` inflate pods run,
/// none of them on `not_on`; returns them.
async fn run_pods(
    plane: &ControlPlane,
    aws: &kerf_aws::Clients,
    want: usize,
    not_on: Option<&str>,
    registered: &mut Vec<String>,
    what: &str,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for i in instances(aws, &["running"], true).await {
            let id = i.instance_id().unwrap().to_string();
            if !registered.contains(&id) && moto::register_node(plane, &i) {
                registered.push(id);
            }
        }
        let pods = running_inflate_pods(plane);
        if pods.len() == want && pods.iter().all(|(_, n)| Some(n.as_str()) != not_on) {
            return pods;
        }
        if Instant::now() >= deadline {
            let out = plane
                .kubectl(["get", "nodes,nodeclaims,pods", "-A", "-o", "wide"])
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!("{what}: {want} inflate pods not Running after 120 s\n{out}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn metrics(controller: &Controller) -> String {
    http_get(controller.metrics_port, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interruption_gc_and_node_class_status_against_moto() {
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(true).await;
    let version = moto::kubernetes_version(&plane).await;
    let account = seed(&aws, CLUSTER, &version).await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(QUEUE)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let subnet_a = &account.subnets[0].1;
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    let owned = kerf_aws::ownership::ownership_tags(CLUSTER);
    let owned: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let orphan = kerf_aws::testing::run_tagged_instance(&aws, subnet_a, &owned).await;
    let node_group = kerf_aws::testing::run_tagged_instance(
        &aws,
        subnet_a,
        &[
            (&cluster_tag, "owned"),
            ("eks:eks-cluster-name", CLUSTER),
            ("eks:nodegroup-name", "system"),
        ],
    )
    .await;
    let foreign = kerf_aws::testing::run_tagged_instance(
        &aws,
        subnet_a,
        &[("kubernetes.io/cluster/someone-else", "owned")],
    )
    .await;

    let (mut flags, env) = moto::controller_flags(&moto);
    flags.extend(
        [
            "--interruption-queue",
            QUEUE,
            "--aws-gc-interval",
            "1s",
            "--aws-gc-grace-period",
            "3s",
        ]
        .map(String::from),
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let controller = start_controller_with_env(&plane, "aws", false, &flags, &env);

    // Garbage collection: the orphan goes, another cluster's instance stays.
    let t_gc = Instant::now();
    while instance_state(&aws, &orphan).await != "terminated" {
        assert!(
            t_gc.elapsed() < Duration::from_secs(30),
            "orphan {orphan} still {} after 30 s",
            instance_state(&aws, &orphan).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!(
        "orphan terminated {:?} after the controller was ready",
        t_gc.elapsed()
    );

    // A node for the seed's pods.
    apply_seed(&plane);
    kubectl(
        &plane,
        &[
            "scale",
            "deployment",
            "inflate",
            "--replicas",
            &REPLICAS.to_string(),
        ],
    );
    let mut registered = Vec::new();
    let before = run_pods(
        &plane,
        &aws,
        REPLICAS,
        None,
        &mut registered,
        "first launch",
    )
    .await;
    let [interrupted] = instances(&aws, &["running"], true)
        .await
        .try_into()
        .unwrap();
    let id = interrupted.instance_id().unwrap().to_string();
    assert_eq!(
        interrupted.instance_lifecycle().map(|l| l.as_str()),
        Some("spot"),
        "the seed allows spot, the cheapest: {interrupted:?}"
    );
    let zone = interrupted
        .placement()
        .and_then(|p| p.availability_zone())
        .unwrap()
        .to_string();
    let claim = tag(&interrupted, NODECLAIM_TAG).unwrap().to_string();
    let old_node = node_name(&interrupted);
    assert!(before.iter().all(|(_, n)| *n == old_node), "{before:?}");

    // The interruption warning, then a message that is no event at all.
    let t_msg = Instant::now();
    for body in [spot_warning(&zone, &id), "{not json".to_string()] {
        aws.sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let after = run_pods(
        &plane,
        &aws,
        REPLICAS,
        Some(&old_node),
        &mut registered,
        "replacement",
    )
    .await;
    let to_running = t_msg.elapsed();
    let replacement = instances(&aws, &["running"], true).await;
    let [new] = replacement.as_slice() else {
        panic!("one replacement instance expected: {replacement:?}");
    };
    let new_node = node_name(new);
    assert_ne!(new.instance_id(), Some(id.as_str()));
    let offering = |i: &aws_sdk_ec2::types::Instance| {
        (
            i.instance_type().map(|t| t.as_str().to_string()),
            i.placement()
                .and_then(|p| p.availability_zone())
                .map(str::to_string),
            i.instance_lifecycle()
                .map_or("on-demand".to_string(), |l| l.as_str().to_string()),
        )
    };
    assert_ne!(
        offering(new),
        offering(&interrupted),
        "the interrupted offering is unavailable"
    );
    assert!(
        after.iter().all(|(_, n)| *n == new_node),
        "{after:?} not on {new_node}"
    );
    assert_eq!(instance_state(&aws, &id).await, "terminated");
    assert!(
        !claim_names(&plane).contains(&claim),
        "{claim} still exists"
    );
    let nodes = kubectl(
        &plane,
        &["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"],
    );
    assert!(
        !lines(&nodes).contains(&old_node),
        "drained node {old_node} still exists: {nodes}"
    );
    let events = kubectl(
        &plane,
        &[
            "get",
            "events",
            "-A",
            "--field-selector",
            "reason=SpotInterrupted",
            "-o",
            "name",
        ],
    );
    assert!(!events.trim().is_empty(), "no SpotInterrupted event");
    let deadline = Instant::now() + Duration::from_secs(20);
    while queue_depth(&aws, &queue_url).await != 0 {
        assert!(Instant::now() < deadline, "messages left on the queue");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let text = metrics(&controller);
    assert_eq!(
        metric(
            &text,
            "karpenter_interruption_received_messages_total{message_type=\"spot_interrupted\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "karpenter_interruption_received_messages_total{message_type=\"no_op\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "karpenter_interruption_deleted_messages_total"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &text,
            "karpenter_interruption_message_queue_duration_seconds_count"
        ),
        Some(2.0)
    );
    assert_eq!(
        instance_state(&aws, &foreign).await,
        "running",
        "another cluster's instance"
    );
    assert_eq!(
        instance_state(&aws, &node_group).await,
        "running",
        "a managed node group's instance, through every collection since"
    );
    eprintln!(
        "spot interruption message → {REPLICAS} pods Running on {new_node} ({:?}) in {to_running:?}",
        offering(new)
    );

    // An instance that vanishes under its claim: garbage collection deletes
    // the claim, whose finalizer releases the Node.
    let new_id = new.instance_id().unwrap().to_string();
    let new_claim = tag(new, NODECLAIM_TAG).unwrap().to_string();
    aws.ec2
        .terminate_instances()
        .instance_ids(&new_id)
        .send()
        .await
        .unwrap();
    let t_lost = Instant::now();
    wait(
        &plane,
        "the claim of a vanished instance deleted",
        Duration::from_secs(30),
        || {
            let nodes = kubectl(
                &plane,
                &["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"],
            );
            (!claim_names(&plane).contains(&new_claim) && !lines(&nodes).contains(&new_node))
                .then_some(())
        },
    );
    eprintln!(
        "claim {new_claim} of vanished {new_id} and its node gone in {:?}",
        t_lost.elapsed()
    );

    // Node-class status through the status subresource; the class names a
    // role, so kerf makes its instance profile in (moto's) IAM.
    kerf_aws::testing::node_role(&aws, "KarpenterNodeRole-e2e").await;
    let class = format!(
        "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {{name: e2e}}\nspec:\n  \
         role: KarpenterNodeRole-e2e\n  amiSelectorTerms: [{{alias: al2023@latest}}]\n  \
         subnetSelectorTerms: [{{tags: {{{cluster_tag}: owned}}}}]\n  \
         securityGroupSelectorTerms: [{{tags: {{{cluster_tag}: owned}}}}]\n"
    );
    let path = write(plane.dir(), "ec2nodeclass.yaml", &class);
    kubectl(&plane, &["apply", "-f", path.to_str().unwrap()]);
    let status: serde_json::Value = wait(
        &plane,
        "EC2NodeClass status",
        Duration::from_secs(30),
        || {
            let json = kubectl(&plane, &["get", "ec2nodeclass", "e2e", "-o", "json"]);
            let v: serde_json::Value = serde_json::from_str(&json).ok()?;
            v["status"]["conditions"]
                .is_array()
                .then(|| v["status"].clone())
        },
    );
    let mut subnets: Vec<&str> = status["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    subnets.sort();
    let mut want: Vec<&str> = account.subnets.iter().map(|(_, id)| id.as_str()).collect();
    want.sort();
    assert_eq!(subnets, want, "{status}");
    assert_eq!(
        status["securityGroups"][0]["id"].as_str(),
        Some(account.node_sg.as_str())
    );
    assert_eq!(
        status["amis"].as_array().map(Vec::len),
        Some(2),
        "amd64 and arm64: {status}"
    );
    let profile = status["instanceProfile"]
        .as_str()
        .expect("status.instanceProfile");
    let roles = kerf_aws::testing::profile_roles(&aws, profile).await;
    assert_eq!(roles, ["KarpenterNodeRole-e2e"], "{status}");
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned();
    assert_eq!(
        ready.as_ref().map(|c| c["status"].clone()),
        Some("True".into()),
        "{status}"
    );

    // The class holds its profile with a finalizer; deleted, it takes the
    // profile with it, even after its role was replaced.
    let finalizers = kubectl(
        &plane,
        &[
            "get",
            "ec2nodeclass",
            "e2e",
            "-o",
            "jsonpath={.metadata.finalizers}",
        ],
    );
    assert!(
        finalizers.contains("karpenter.k8s.aws/termination"),
        "{finalizers}"
    );
    // The role gives way to a named profile (the CRD allows one or the
    // other): the class stays held, and its deletion still removes the
    // profile kerf made.
    let switched = class.replace(
        "role: KarpenterNodeRole-e2e",
        "instanceProfile: KarpenterNodeInstanceProfile",
    );
    assert_ne!(switched, class);
    let path = write(plane.dir(), "ec2nodeclass.yaml", &switched);
    kubectl(&plane, &["apply", "-f", path.to_str().unwrap()]);
    kubectl(&plane, &["delete", "ec2nodeclass", "e2e", "--wait=false"]);
    wait(
        &plane,
        "the EC2NodeClass gone",
        Duration::from_secs(60),
        || {
            let left = kubectl(&plane, &["get", "ec2nodeclass", "-o", "name"]);
            (!left.contains("e2e")).then_some(())
        },
    );
    let after = aws
        .iam
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await;
    assert!(
        after.is_err(),
        "profile {profile} outlived its class: {after:?}"
    );
}
