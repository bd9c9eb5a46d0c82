//! render: the documents and the CloudFormation template, with no AWS call. The template
//! parses (printed as YAML) and names the same resources install creates, with the same
//! documents.

use kerf_addon::aws::cloudformation::rule_logical_id;
use kerf_addon::aws::documents::{controller_policy, controller_trust_policy, queue_policy};
use kerf_addon::aws::names::RULES;
use kerf_addon::aws::{AwsSide, render};
use kerf_aws::AwsSettings;
use serde_json::{Value, json};

fn side() -> AwsSide {
    // An endpoint nothing listens on: render must not call it.
    let mut settings = AwsSettings::new("eu-west-1");
    settings.endpoint_url = Some("http://127.0.0.1:9".into());
    AwsSide::new("demo", settings)
}

/// A `Fn::Sub` string parsed back to the document.
fn sub(v: &Value) -> Value {
    serde_json::from_str(v["Fn::Sub"].as_str().unwrap()).unwrap()
}

#[test]
fn the_template_parses_and_names_the_resources_install_creates() {
    let r = render(&side(), None, None);
    let text = r.to_text().unwrap();
    let yaml = &text[text.find("# CloudFormation template\n").unwrap() + 26..];
    let parsed: Value = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(parsed, r.template);
    let res = &parsed["Resources"];
    assert_eq!(
        res["KarpenterNodeRole"]["Properties"]["RoleName"],
        "KarpenterNodeRole-demo"
    );
    assert_eq!(
        res["KarpenterNodeInstanceProfile"]["Properties"]["InstanceProfileName"],
        "KarpenterNodeInstanceProfile-demo"
    );
    assert_eq!(
        res["KarpenterNodeInstanceProfile"]["Properties"]["Roles"],
        json!([{ "Ref": "KarpenterNodeRole" }])
    );
    assert_eq!(
        res["KarpenterControllerPolicy"]["Properties"]["ManagedPolicyName"],
        "KarpenterControllerPolicy-demo"
    );
    assert_eq!(
        res["KarpenterControllerRole"]["Properties"]["RoleName"],
        "KarpenterControllerRole-demo"
    );
    assert_eq!(
        res["KarpenterInterruptionQueue"]["Properties"]["QueueName"],
        "demo"
    );
    assert_eq!(
        res["KarpenterInterruptionQueue"]["Properties"]["MessageRetentionPeriod"],
        300
    );
    assert_eq!(
        res["KarpenterInterruptionQueue"]["Properties"]["SqsManagedSseEnabled"],
        true
    );
    assert_eq!(
        res["SpotServiceLinkedRole"]["Properties"]["AWSServiceName"],
        "spot.amazonaws.com"
    );
    assert_eq!(
        res["KarpenterOidcProvider"]["Properties"]["ClientIdList"],
        json!(["sts.amazonaws.com"])
    );
    for rule in &RULES {
        let props = &res[rule_logical_id(rule.id)]["Properties"];
        assert_eq!(props["Name"], format!("kerf-demo-{}", rule.id));
        assert_eq!(
            props["EventPattern"],
            json!({ "source": [rule.source], "detail-type": [rule.detail_type] })
        );
        assert_eq!(
            props["Targets"][0]["Arn"],
            json!({ "Fn::GetAtt": ["KarpenterInterruptionQueue", "Arn"] })
        );
    }
    assert_eq!(res.as_object().unwrap().len(), 6 + 2 + RULES.len());
    let managed = res["KarpenterNodeRole"]["Properties"]["ManagedPolicyArns"]
        .as_array()
        .unwrap();
    assert_eq!(managed.len(), 4);

    // The template's documents are install's, with CloudFormation references for the account.
    let mut ctx = side().context("${AWS::AccountId}", "https://${OidcProvider}");
    ctx.partition = "${AWS::Partition}".into();
    ctx.region = "${AWS::Region}".into();
    assert_eq!(
        sub(&res["KarpenterControllerPolicy"]["Properties"]["PolicyDocument"]),
        controller_policy(&ctx, true)
    );
    assert_eq!(
        sub(&res["KarpenterControllerRole"]["Properties"]["AssumeRolePolicyDocument"]),
        controller_trust_policy(&ctx)
    );
    assert_eq!(
        sub(&res["KarpenterInterruptionQueuePolicy"]["Properties"]["PolicyDocument"]),
        queue_policy(&ctx)
    );
}

#[test]
fn known_values_fill_the_printed_documents() {
    let r = render(
        &side(),
        Some("111122223333"),
        Some("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"),
    );
    let trust = &r.documents["controller-role-trust-policy"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["Federated"],
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    );
    let cond = &trust["Condition"]["StringEquals"];
    assert_eq!(
        cond["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"],
        "system:serviceaccount:karpenter:karpenter"
    );
    let policy = &r.documents["controller-policy"];
    let sqs = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AllowInterruptionQueueActions")
        .unwrap();
    assert_eq!(sqs["Resource"], "arn:aws:sqs:eu-west-1:111122223333:demo");
    let names: Vec<&String> = r.documents.keys().collect();
    assert_eq!(names.len(), 4 + RULES.len(), "{names:?}");
}

#[test]
fn without_interruption_there_is_no_queue_rule_or_sqs_grant() {
    let mut s = side();
    s.interruption = false;
    let r = render(&s, None, None);
    let res = r.template["Resources"].as_object().unwrap();
    assert!(
        !res.keys()
            .any(|k| k.contains("Queue") || k.ends_with("Rule")),
        "{:?}",
        res.keys()
    );
    assert!(
        !r.documents["controller-policy"]
            .to_string()
            .contains("sqs:")
    );
}
