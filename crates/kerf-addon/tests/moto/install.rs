//! install against moto: every resource with its documents, parsed and asserted; a second
//! install reports every step Unchanged and leaves the whole inventory identical.

use std::collections::BTreeSet;

use kerf_addon::aws::install;
use kerf_addon::progress::{Recorded, StepOutcome};
use serde_json::{Value, json};

use crate::support::{CLUSTER, Seeded, ec2_tags_of, inventory, seeded};

fn roles<'a>(inv: &'a Value, name: &str) -> &'a Value {
    &inv["roles"][name]
}

fn as_set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("not a string or list: {other}"),
    }
}

fn has_kerf_tags(tags: &Value) {
    let tags: BTreeSet<(String, String)> = serde_json::from_value(tags.clone()).unwrap();
    assert!(
        tags.contains(&("kerf.sh/managed-by".into(), "kerf".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("kerf.sh/cluster".into(), CLUSTER.into())),
        "{tags:?}"
    );
}

async fn assert_installed(s: &Seeded, inv: &Value) {
    let acct = &s.account;
    // Node role: EC2 assumes it, the four worker policies attached, in the instance profile.
    let node = roles(inv, "KarpenterNodeRole-demo");
    let stmt = &node["trust"]["Statement"][0];
    assert_eq!(stmt["Effect"], "Allow");
    assert_eq!(
        as_set(&stmt["Principal"]["Service"]),
        BTreeSet::from(["ec2.amazonaws.com".to_string()])
    );
    assert_eq!(
        as_set(&stmt["Action"]),
        BTreeSet::from(["sts:AssumeRole".to_string()])
    );
    let attached = as_set(&node["attached"]);
    let want: BTreeSet<String> = [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    ]
    .iter()
    .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
    .collect();
    assert_eq!(attached, want);
    has_kerf_tags(&node["tags"]);
    assert_eq!(
        inv["instance_profiles"]["KarpenterNodeInstanceProfile-demo"],
        json!(["KarpenterNodeRole-demo"])
    );

    // IRSA role: the cluster's OIDC provider, only karpenter:karpenter with the STS audience.
    let host = s.issuer.strip_prefix("https://").unwrap();
    let provider_arn = format!("arn:aws:iam::{acct}:oidc-provider/{host}");
    assert!(
        as_set(&inv["oidc_providers"]).contains(&provider_arn),
        "{}",
        inv["oidc_providers"]
    );
    let provider =
        s.c.iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&provider_arn)
            .send()
            .await
            .unwrap();
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
    let ctl = roles(inv, "KarpenterControllerRole-demo");
    let stmt = &ctl["trust"]["Statement"];
    assert_eq!(stmt.as_array().unwrap().len(), 1);
    let stmt = &stmt[0];
    assert_eq!(stmt["Principal"], json!({ "Federated": provider_arn }));
    assert_eq!(
        as_set(&stmt["Action"]),
        BTreeSet::from(["sts:AssumeRoleWithWebIdentity".to_string()])
    );
    assert_eq!(
        stmt["Condition"],
        json!({ "StringEquals": {
            format!("{host}:sub"): "system:serviceaccount:karpenter:karpenter",
            format!("{host}:aud"): "sts.amazonaws.com",
        }})
    );
    let policy_arn = format!("arn:aws:iam::{acct}:policy/KarpenterControllerPolicy-demo");
    assert_eq!(
        as_set(&ctl["attached"]),
        BTreeSet::from([policy_arn.clone()])
    );
    has_kerf_tags(&ctl["tags"]);

    // Controller policy: PassRole only on the node role, SQS only on the queue, EC2 writes
    // conditioned on the cluster's tags.
    let policy = &inv["policies"][&policy_arn]["document"];
    let statements = policy["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {policy}"))
    };
    let pass = by_sid("AllowPassingInstanceRole");
    assert_eq!(
        pass["Resource"],
        format!("arn:aws:iam::{acct}:role/KarpenterNodeRole-demo")
    );
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "ec2.amazonaws.com"
    );
    let sqs = by_sid("AllowInterruptionQueueActions");
    assert_eq!(
        sqs["Resource"],
        format!("arn:aws:sqs:us-east-1:{acct}:demo")
    );
    // Termination only of what carries kerf's ownership tag, not the cluster tag alone
    // (node groups carry that too); tests/policy_scope.rs checks every statement.
    let terminate = by_sid("AllowScopedDeletion");
    assert_eq!(
        terminate["Condition"]["StringEquals"]["aws:ResourceTag/kerf.sh/cluster"],
        "demo"
    );
    assert_eq!(
        terminate["Condition"]["StringEquals"]["aws:ResourceTag/kubernetes.io/cluster/demo"],
        "owned"
    );
    for s in statements {
        let actions = as_set(&s["Action"]);
        if actions
            .iter()
            .any(|a| a.starts_with("iam:") || a.starts_with("sqs:"))
        {
            assert_ne!(s["Resource"], "*", "{s}");
        }
        let writes = [
            "ec2:TerminateInstances",
            "ec2:DeleteLaunchTemplate",
            "ec2:CreateTags",
            "ec2:CreateLaunchTemplate",
        ];
        if actions.iter().any(|a| writes.contains(&a.as_str())) {
            assert!(
                s["Condition"].is_object(),
                "an EC2 write without a tag condition: {s}"
            );
        }
    }

    // The spot service-linked role exists (moto names it AWSServiceRoleForspot: see main.rs).
    let spot = inv["roles"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["path"] == "/aws-service-role/spot.amazonaws.com/")
        .count();
    assert_eq!(spot, 1, "{}", inv["roles"]);

    // The queue: five-minute retention, SSE; only this account's kerf rules may send to it
    // (through EventBridge), and nothing over plain HTTP.
    let (_, queue) = inv["queues"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(url, _)| url.ends_with("/demo"))
        .expect("queue demo");
    assert_eq!(queue["MessageRetentionPeriod"], "300");
    assert_eq!(queue["SqsManagedSseEnabled"], "true");
    let queue_arn = format!("arn:aws:sqs:us-east-1:{acct}:demo");
    assert_eq!(queue["QueueArn"], queue_arn);
    let qp: Value = serde_json::from_str(queue["Policy"].as_str().unwrap()).unwrap();
    let qs = &qp["Statement"][0];
    assert_eq!(
        as_set(&qs["Principal"]["Service"]),
        BTreeSet::from(["events.amazonaws.com".to_string()])
    );
    assert_eq!(
        as_set(&qs["Action"]),
        BTreeSet::from(["sqs:SendMessage".to_string()])
    );
    assert_eq!(qs["Resource"], queue_arn);
    assert_eq!(qs["Condition"]["StringEquals"]["aws:SourceAccount"], *acct);
    let sources = as_set(&qs["Condition"]["ArnEquals"]["aws:SourceArn"]);
    assert_eq!(sources.len(), 4, "{sources:?}");
    for arn in &sources {
        assert!(
            arn.starts_with(&format!("arn:aws:events:us-east-1:{acct}:rule/kerf-demo-")),
            "{arn}"
        );
    }
    let deny = &qp["Statement"][1];
    assert_eq!(deny["Sid"], "DenyHTTP");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");

    // Four rules, each with its event pattern and the queue as its only target.
    let want_rules = [
        (
            "kerf-demo-spot-interruption",
            "aws.ec2",
            "EC2 Spot Instance Interruption Warning",
        ),
        (
            "kerf-demo-rebalance",
            "aws.ec2",
            "EC2 Instance Rebalance Recommendation",
        ),
        (
            "kerf-demo-instance-state-change",
            "aws.ec2",
            "EC2 Instance State-change Notification",
        ),
        (
            "kerf-demo-scheduled-change",
            "aws.health",
            "AWS Health Event",
        ),
    ];
    assert_eq!(
        inv["rules"].as_object().unwrap().len(),
        4,
        "{}",
        inv["rules"]
    );
    for (name, source, detail) in want_rules {
        let rule = &inv["rules"][name];
        assert_eq!(
            rule["pattern"],
            json!({ "source": [source], "detail-type": [detail] }),
            "{name}"
        );
        let targets: Vec<(String, String)> =
            serde_json::from_value(rule["targets"].clone()).unwrap();
        assert_eq!(targets.len(), 1, "{name}");
        assert_eq!(targets[0].1, queue_arn, "{name}");
    }

    // Discovery tags on both subnets and the security group; the operator's own value kept.
    for id in s.subnets.iter().chain([&s.security_group]) {
        let tags = ec2_tags_of(s, id).await;
        assert_eq!(
            tags.get("karpenter.sh/discovery").map(String::as_str),
            Some(CLUSTER),
            "{id}"
        );
        assert!(
            tags.contains_key("kubernetes.io/cluster/demo"),
            "{id}: {tags:?}"
        );
    }
    let first = ec2_tags_of(s, &s.subnets[0]).await;
    assert_eq!(first["kubernetes.io/cluster/demo"], "owned");
}

#[tokio::test]
async fn install_creates_every_resource_with_its_documents() {
    let s = seeded().await;
    let mut rec = Recorded::default();
    let out = install(&s.side, &s.c, &mut rec).await.unwrap();
    assert_eq!(
        out.controller_role_arn,
        format!(
            "arn:aws:iam::{}:role/KarpenterControllerRole-demo",
            s.account
        )
    );
    assert_eq!(out.instance_profile, "KarpenterNodeInstanceProfile-demo");
    assert_eq!(out.interruption_queue.as_deref(), Some("demo"));
    assert_eq!(out.oidc_issuer, s.issuer);
    assert!(
        out.cluster_endpoint.starts_with("https://"),
        "{}",
        out.cluster_endpoint
    );
    let created: Vec<&str> = rec
        .steps
        .iter()
        .filter(|(_, _, o)| *o == StepOutcome::Created)
        .map(|(step, _, _)| step.as_str())
        .collect();
    for step in [
        "iam:node-role",
        "iam:instance-profile",
        "iam:controller-policy",
        "iam:oidc-provider",
        "iam:controller-role",
        "iam:spot-service-linked-role",
        "sqs:queue",
        "events:rule/rebalance",
    ] {
        assert!(
            created.contains(&step),
            "{step} not created: {:?}",
            rec.steps
        );
    }
    let inv = inventory(&s).await;
    assert_installed(&s, &inv).await;
}

#[tokio::test]
async fn a_second_install_changes_nothing() {
    let s = seeded().await;
    install(&s.side, &s.c, &mut Recorded::default())
        .await
        .unwrap();
    let before = inventory(&s).await;
    let mut rec = Recorded::default();
    install(&s.side, &s.c, &mut rec).await.unwrap();
    let changed: Vec<_> = rec
        .steps
        .iter()
        .filter(|(_, _, o)| *o != StepOutcome::Unchanged)
        .collect();
    assert!(changed.is_empty(), "second install changed: {changed:?}");
    // 2 lookups, 8 IAM steps, the queue, 4 rules, 3 tagged resources.
    assert_eq!(rec.steps.len(), 2 + 8 + 1 + 4 + 3, "{:?}", rec.steps);
    assert_eq!(inventory(&s).await, before);
}

/// An older kerf attached `AmazonEC2ContainerRegistryReadOnly` to its node role; installing
/// again narrows it to `PullOnly`.
#[tokio::test]
async fn an_upgrade_replaces_the_read_only_registry_policy_with_pull_only() {
    let s = seeded().await;
    install(&s.side, &s.c, &mut Recorded::default())
        .await
        .unwrap();
    let read_only = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    s.c.iam
        .attach_role_policy()
        .role_name("KarpenterNodeRole-demo")
        .policy_arn(read_only)
        .send()
        .await
        .unwrap();
    let mut rec = Recorded::default();
    install(&s.side, &s.c, &mut rec).await.unwrap();
    let step = rec
        .steps
        .iter()
        .find(|(step, _, _)| step == "iam:node-role-policies")
        .unwrap_or_else(|| panic!("{:?}", rec.steps));
    assert_eq!(step.2, StepOutcome::Updated, "{step:?}");
    let inv = inventory(&s).await;
    let attached = as_set(&roles(&inv, "KarpenterNodeRole-demo")["attached"]);
    assert!(!attached.contains(read_only), "{attached:?}");
    assert!(
        attached.contains("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"),
        "{attached:?}"
    );
}

#[tokio::test]
async fn a_failed_step_is_named_and_a_rerun_resumes() {
    let s = seeded().await;
    // A role of the controller's name that kerf did not create, trusting something else.
    let other = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    s.c.iam
        .create_role()
        .role_name("KarpenterControllerRole-demo")
        .assume_role_policy_document(other.to_string())
        .send()
        .await
        .unwrap();
    let mut rec = Recorded::default();
    let err = install(&s.side, &s.c, &mut rec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step iam:controller-role (KarpenterControllerRole-demo) failed"),
        "{err}"
    );
    assert!(
        err.contains("iam:node-role KarpenterNodeRole-demo"),
        "already done is listed: {err}"
    );
    assert!(err.contains("not created by kerf"), "{err}");
    assert!(matches!(
        rec.steps.last().unwrap().2,
        StepOutcome::Failed(_)
    ));
    // Nothing after the failing step ran.
    assert!(!rec.steps.iter().any(|(step, _, _)| step == "sqs:queue"));

    s.c.iam
        .delete_role()
        .role_name("KarpenterControllerRole-demo")
        .send()
        .await
        .unwrap();
    let mut rec = Recorded::default();
    install(&s.side, &s.c, &mut rec).await.unwrap();
    let outcome = |name: &str| {
        rec.steps
            .iter()
            .find(|(step, _, _)| step == name)
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(outcome("iam:node-role"), StepOutcome::Unchanged);
    assert_eq!(outcome("iam:controller-policy"), StepOutcome::Unchanged);
    assert_eq!(outcome("iam:controller-role"), StepOutcome::Created);
    assert_eq!(outcome("sqs:queue"), StepOutcome::Created);
    assert_installed(&s, &inventory(&s).await).await;
}
