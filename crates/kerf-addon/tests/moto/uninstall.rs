//! uninstall against moto: no kerf-created role, policy, profile, OIDC provider, queue, rule
//! or discovery tag remains; an untagged look-alike, the operator's own tags and the spot
//! service-linked role stay.

use kerf_addon::aws::{install, uninstall};
use kerf_addon::progress::{Recorded, StepOutcome};
use serde_json::{Value, json};

use crate::support::{CLUSTER, ec2_tags_of, inventory, seeded};

fn names(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn uninstall_removes_what_install_created_and_nothing_else() {
    let s = seeded().await;
    // The operator's node role, same name, same trust, no kerf tag: install uses it as is.
    let trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    s.c.iam
        .create_role()
        .role_name("KarpenterNodeRole-demo")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let before = inventory(&s).await;
    let mut rec = Recorded::default();
    install(&s.side, &s.c, &mut rec).await.unwrap();
    let node_step = rec
        .steps
        .iter()
        .find(|(step, _, _)| step == "iam:node-role")
        .unwrap();
    assert_eq!(node_step.2, StepOutcome::Unchanged);

    let mut rec = Recorded::default();
    uninstall(&s.side, &s.c, &mut rec).await.unwrap();
    let inv = inventory(&s).await;

    let roles = names(&inv["roles"]);
    assert!(
        roles.contains(&"KarpenterNodeRole-demo".to_string()),
        "look-alike kept: {roles:?}"
    );
    assert!(
        !roles.contains(&"KarpenterControllerRole-demo".to_string()),
        "{roles:?}"
    );
    let spot: Vec<&Value> = inv["roles"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["path"] == "/aws-service-role/spot.amazonaws.com/")
        .collect();
    assert_eq!(spot.len(), 1, "the spot service-linked role is kept");
    assert!(names(&inv["policies"]).is_empty(), "{}", inv["policies"]);
    assert!(
        names(&inv["instance_profiles"]).is_empty(),
        "{}",
        inv["instance_profiles"]
    );
    assert!(
        names(&inv["oidc_providers"]).is_empty(),
        "{}",
        inv["oidc_providers"]
    );
    assert!(names(&inv["queues"]).is_empty(), "{}", inv["queues"]);
    assert!(names(&inv["rules"]).is_empty(), "{}", inv["rules"]);
    // Discovery tags are back to what the operator had (the first subnet's own tag kept).
    assert_eq!(inv["ec2_tags"], before["ec2_tags"]);
    let first = ec2_tags_of(&s, &s.subnets[0]).await;
    assert_eq!(first[&format!("kubernetes.io/cluster/{CLUSTER}")], "owned");

    let outcome = |name: &str| {
        rec.steps
            .iter()
            .find(|(step, _, _)| step == name)
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(
        outcome("iam:node-role"),
        StepOutcome::Unchanged,
        "not kerf's: left"
    );
    assert_eq!(outcome("iam:controller-role"), StepOutcome::Deleted);
    assert_eq!(outcome("sqs:queue"), StepOutcome::Deleted);

    // A second uninstall finds nothing of kerf's.
    let mut rec = Recorded::default();
    uninstall(&s.side, &s.c, &mut rec).await.unwrap();
    let deleted: Vec<_> = rec
        .steps
        .iter()
        .filter(|(_, _, o)| *o == StepOutcome::Deleted)
        .collect();
    assert!(deleted.is_empty(), "{deleted:?}");
}

/// The EKS cluster deleted before the add-on: uninstall finds kerf's subnets, security
/// groups and OIDC provider by the tags kerf put on them and still removes everything.
#[tokio::test]
async fn uninstall_after_the_cluster_is_gone_still_removes_everything() {
    let s = seeded().await;
    let before = inventory(&s).await;
    let mut rec = Recorded::default();
    install(&s.side, &s.c, &mut rec).await.unwrap();
    s.c.eks.delete_cluster().name(CLUSTER).send().await.unwrap();

    let mut rec = Recorded::default();
    uninstall(&s.side, &s.c, &mut rec).await.unwrap();
    let outcome = |name: &str| {
        rec.steps
            .iter()
            .find(|(step, _, _)| step == name)
            .unwrap_or_else(|| panic!("no step {name}: {:?}", rec.steps))
            .2
            .clone()
    };
    assert_eq!(outcome("eks:cluster"), StepOutcome::Absent);
    assert_eq!(outcome("iam:oidc-provider"), StepOutcome::Deleted);
    let tagged = rec
        .steps
        .iter()
        .filter(|(step, _, o)| step == "ec2:discovery-tags" && *o == StepOutcome::Deleted)
        .count();
    assert_eq!(
        tagged, 3,
        "two subnets and the security group: {:?}",
        rec.steps
    );

    let inv = inventory(&s).await;
    let roles = names(&inv["roles"]);
    assert!(
        roles.iter().all(|r| !r.starts_with("Karpenter")),
        "{roles:?}"
    );
    assert!(names(&inv["policies"]).is_empty(), "{}", inv["policies"]);
    assert!(names(&inv["instance_profiles"]).is_empty());
    assert!(names(&inv["oidc_providers"]).is_empty());
    assert!(names(&inv["queues"]).is_empty());
    assert!(names(&inv["rules"]).is_empty());
    assert_eq!(inv["ec2_tags"], before["ec2_tags"]);
}
