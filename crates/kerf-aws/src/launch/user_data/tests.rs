//! Tests of the user data for each AMI family, with and without the user's
//! own user data, each parsing the result back (MIME with `mailparse`, TOML
//! with `toml`). Cases ported from Karpenter name the upstream test.

mod bottlerocket;
mod mime;
mod windows;

use std::collections::BTreeMap;

use mailparse::MailHeaderMap;

use super::*;

pub(super) fn cluster() -> ClusterInfo {
    ClusterInfo {
        name: "demo".into(),
        endpoint: "https://api.demo.example".into(),
        ca_bundle: "Q0E=".into(),
        dns_ip: Some("10.100.0.10".into()),
        service_cidr: "10.100.0.0/16".into(),
    }
}

pub(super) fn node() -> NodeBootstrap {
    NodeBootstrap {
        labels: BTreeMap::from([
            ("karpenter.sh/capacity-type".into(), "spot".into()),
            ("karpenter.sh/nodepool".into(), "default".into()),
        ]),
        taints: vec!["dedicated=gpu:NoSchedule".into()],
        max_pods: Some(29),
        raid0: false,
    }
}

/// A part of merged user data as read back: its Content-Type header, its
/// raw text (headers and body) and its body.
#[derive(Debug)]
pub(super) struct ReadPart {
    pub content_type: String,
    pub raw: String,
    pub body: String,
}

/// Reads merged user data back as a MIME multipart/mixed archive.
pub(super) fn read_mime(ud: &str) -> Vec<ReadPart> {
    let mail = mailparse::parse_mail(ud.as_bytes()).expect("user data parses as MIME");
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    assert_eq!(
        mail.headers.get_first_value("MIME-Version").as_deref(),
        Some("1.0")
    );
    assert!(!ud.contains('\r'), "LF line endings only");
    mail.subparts
        .iter()
        .map(|p| ReadPart {
            content_type: p
                .headers
                .get_first_value("Content-Type")
                .expect("every part has a Content-Type"),
            raw: String::from_utf8(p.raw_bytes.to_vec()).expect("UTF-8 part"),
            body: p.get_body().expect("readable body"),
        })
        .collect()
}

const SHELL: &str = "text/x-shellscript; charset=\"us-ascii\"";
const NODE_CONFIG: &str = "application/node.eks.aws";

/// Kerf's bootstrap part is the last one, and is the bootstrap.
fn assert_bootstrap_last(parts: &[ReadPart]) {
    let last = parts.last().expect("a part");
    assert_eq!(last.content_type, SHELL);
    assert!(last.body.contains("/etc/eks/bootstrap.sh 'demo'"));
    assert_eq!(
        parts
            .iter()
            .filter(|p| p.body.contains("/etc/eks/bootstrap.sh"))
            .count(),
        1
    );
}

#[test]
fn al2_runs_bootstrap_with_cluster_and_kubelet_flags() {
    let ud = user_data(AmiFamily::Al2, &cluster(), &node(), Some("echo hello")).unwrap();
    assert!(ud.starts_with("MIME-Version: 1.0"));
    assert!(ud.contains("/etc/eks/bootstrap.sh 'demo' --apiserver-endpoint 'https://api.demo.example' --b64-cluster-ca 'Q0E='"));
    assert!(ud.contains("--dns-cluster-ip '10.100.0.10'"));
    assert!(ud.contains("--max-pods=29") && ud.contains("--use-max-pods false"));
    assert!(ud.contains(
        "--node-labels=\"karpenter.sh/capacity-type=spot,karpenter.sh/nodepool=default\""
    ));
    assert!(ud.contains("--register-with-taints=\"dedicated=gpu:NoSchedule\""));
    assert!(
        ud.find("echo hello") < ud.find("bootstrap.sh"),
        "user part first"
    );
    assert!(ud.trim_end().ends_with("--//--"));
}

/// Upstream: launchtemplate suite, "AL2 Custom UserData" / "should merge in
/// custom user data not in multi-part mime format" (and its expected layout,
/// `al2_userdata_merged.golden`).
#[test]
fn al2_bare_script_becomes_the_first_shell_part() {
    let script = "#!/bin/bash\necho \"Running custom user data script\"\n";
    let ud = user_data(AmiFamily::Al2, &cluster(), &node(), Some(script)).unwrap();
    let parts = read_mime(&ud);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type, SHELL);
    assert_eq!(parts[0].body, script, "the user's script byte for byte");
    assert_bootstrap_last(&parts);
    assert!(ud.starts_with(concat!(
        "MIME-Version: 1.0\n",
        "Content-Type: multipart/mixed; boundary=\"//\"\n\n",
        "--//\n",
        "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n",
        "#!/bin/bash\necho \"Running custom user data script\"\n\n",
        "--//\n",
        "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n",
        "#!/bin/bash -xe\n",
    )));
    assert!(ud.ends_with("--max-pods=29'\n--//--\n"));
}

/// A user archive of two parts: both kept, in order, headers and all.
/// Upstream: "AL2 Custom UserData" / "should merge in custom user data".
#[test]
fn al2_user_archive_parts_are_kept_in_order_before_the_bootstrap() {
    let first = "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash\necho one\n";
    let second = "Content-Type: text/cloud-config\nContent-Disposition: attachment; filename=\"c.cfg\"\n\n#cloud-config\npackages: [jq]";
    let archive = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\n\npreamble is dropped\n--BOUNDARY\n{first}\n--BOUNDARY\n{second}\n--BOUNDARY--\n"
    );
    for family in [AmiFamily::Al2, AmiFamily::Ubuntu] {
        let ud = user_data(family, &cluster(), &node(), Some(&archive)).unwrap();
        let parts = read_mime(&ud);
        assert_eq!(parts.len(), 3, "{family:?}");
        assert_eq!(parts[0].raw, first);
        assert_eq!(parts[1].raw, second);
        assert_eq!(parts[1].content_type, "text/cloud-config");
        assert_bootstrap_last(&parts);
        assert!(!ud.contains("BOUNDARY") && !ud.contains("preamble"));
    }
}

/// Upstream: "AL2 Custom UserData" / "should merge in custom user data when
/// Content-Type is before MIME-Version".
#[test]
fn al2_user_archive_may_start_with_content_type() {
    let archive = "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\nMIME-Version: 1.0\n\n--BOUNDARY\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash\necho \"Running custom user data script\"\n\n--BOUNDARY--";
    let merged = user_data(AmiFamily::Al2, &cluster(), &node(), Some(archive)).unwrap();
    let bare = "#!/bin/bash\necho \"Running custom user data script\"\n";
    // Upstream expects the same merged document from both inputs.
    assert_eq!(
        merged,
        user_data(AmiFamily::Al2, &cluster(), &node(), Some(bare)).unwrap()
    );
}

/// Upstream: "AL2 Custom UserData" / "should handle empty custom user data".
#[test]
fn al2_without_user_data_is_the_bootstrap_alone() {
    for custom in [None, Some(""), Some("  \n")] {
        let ud = user_data(AmiFamily::Al2, &cluster(), &node(), custom).unwrap();
        let parts = read_mime(&ud);
        assert_eq!(parts.len(), 1);
        assert_bootstrap_last(&parts);
    }
}

/// Upstream launchtemplate suite, "instanceStorePolicy": AL2 passes
/// `--local-disks raid0` to bootstrap.sh, AL2023 sets nodeadm's
/// `instance.localStorage.strategy: RAID0`; without the policy neither.
#[test]
fn raid0_instance_store_for_the_eks_linux_images() {
    let raid0 = NodeBootstrap {
        raid0: true,
        ..node()
    };
    let al2 = user_data(AmiFamily::Al2, &cluster(), &raid0, None).unwrap();
    assert!(al2.contains("\\\n--local-disks raid0"), "{al2}");
    let al2023 = user_data(AmiFamily::Al2023, &cluster(), &raid0, None).unwrap();
    let parts = read_mime(&al2023);
    let config: serde_yaml::Value = serde_yaml::from_str(&parts[0].body).unwrap();
    assert_eq!(
        config["spec"]["instance"]["localStorage"]["strategy"].as_str(),
        Some("RAID0")
    );
    assert_eq!(
        config["spec"]["kubelet"]["config"]["maxPods"].as_i64(),
        Some(29)
    );
    for family in [AmiFamily::Al2, AmiFamily::Al2023] {
        let plain = user_data(family, &cluster(), &node(), None).unwrap();
        assert!(
            !plain.contains("raid0") && !plain.contains("RAID0"),
            "{plain}"
        );
    }
}

#[test]
fn al2023_writes_a_node_config() {
    let ud = user_data(AmiFamily::Al2023, &cluster(), &node(), None).unwrap();
    assert!(ud.contains("Content-Type: application/node.eks.aws"));
    assert!(ud.contains("kind: NodeConfig"));
    assert!(ud.contains("name: \"demo\"") && ud.contains("cidr: \"10.100.0.0/16\""));
    assert!(ud.contains("maxPods: 29"));
    assert!(ud.contains(r#"{key: "dedicated", value: "gpu", effect: "NoSchedule"}"#));
    let parts = read_mime(&ud);
    assert_eq!(parts.len(), 1);
    let config: serde_yaml::Value = serde_yaml::from_str(&parts[0].body).unwrap();
    assert_eq!(config["spec"]["cluster"]["name"].as_str(), Some("demo"));
}

/// Kerf's NodeConfig is the last part and reads as kerf's.
fn assert_kerf_node_config_last(parts: &[ReadPart]) {
    let last = parts.last().expect("a part");
    assert_eq!(last.content_type, NODE_CONFIG);
    let config: serde_yaml::Value = serde_yaml::from_str(&last.body).unwrap();
    assert_eq!(config["kind"].as_str(), Some("NodeConfig"));
    assert_eq!(
        config["spec"]["cluster"]["apiServerEndpoint"].as_str(),
        Some("https://api.demo.example")
    );
    assert_eq!(
        config["spec"]["kubelet"]["config"]["maxPods"].as_i64(),
        Some(29)
    );
}

/// Upstream: "AL2023" / "should merge custom user data" entry "YAML".
#[test]
fn al2023_user_node_config_is_kept_as_its_own_part() {
    let user = "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 42\n      systemReserved:\n        cpu: 100m\n";
    let ud = user_data(AmiFamily::Al2023, &cluster(), &node(), Some(user)).unwrap();
    let parts = read_mime(&ud);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type, NODE_CONFIG);
    assert_eq!(parts[0].body, user, "the user's NodeConfig byte for byte");
    assert_kerf_node_config_last(&parts);
}

/// Upstream: "AL2023" / "should merge custom user data" entry "shell".
#[test]
fn al2023_bare_script_is_a_shell_part() {
    let user = "#!/bin/bash\necho \"Hello, AL2023!\"\n";
    let ud = user_data(AmiFamily::Al2023, &cluster(), &node(), Some(user)).unwrap();
    let parts = read_mime(&ud);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type, SHELL);
    assert_eq!(parts[0].body, user);
    assert_kerf_node_config_last(&parts);
}

/// Upstream: "AL2023" / "should merge custom user data" entry "MIME": the
/// user's archive ends with a bare `--//` and no closing delimiter, which
/// Karpenter accepts; the merged layout is theirs up to kerf's part.
#[test]
fn al2023_user_archive_is_kept_part_by_part() {
    let config = "Content-Type: application/node.eks.aws\n\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 42";
    let script = "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash\necho \"Hello, AL2023!\"";
    let archive = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n--//\n{config}\n--//\n{script}\n--//\n"
    );
    let ud = user_data(AmiFamily::Al2023, &cluster(), &node(), Some(&archive)).unwrap();
    let parts = read_mime(&ud);
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].raw, config);
    assert_eq!(parts[1].raw, script);
    assert_eq!(
        (&*parts[0].content_type, &*parts[1].content_type),
        (NODE_CONFIG, SHELL)
    );
    assert_kerf_node_config_last(&parts);
    assert!(ud.starts_with(&format!(
        "{archive}Content-Type: application/node.eks.aws\n\napiVersion: node.eks.aws/v1alpha1\n"
    )));
}

/// A script saved with Windows line endings still runs: carriage returns
/// go, as in Karpenter's merged archive.
#[test]
fn carriage_returns_are_dropped_from_user_parts() {
    let ud = user_data(
        AmiFamily::Al2,
        &cluster(),
        &node(),
        Some("#!/bin/bash\r\necho hi\r\n"),
    )
    .unwrap();
    assert_eq!(read_mime(&ud)[0].body, "#!/bin/bash\necho hi\n");
}

#[test]
fn a_broken_user_archive_is_refused_naming_spec_user_data() {
    for broken in [
        "MIME-Version: 1.0\nContent-Type: text/plain\n\necho hi\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\necho hi\n--x--\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"\n\n--x\n\necho cut off\n",
    ] {
        for family in [AmiFamily::Al2, AmiFamily::Al2023, AmiFamily::Ubuntu] {
            let err = user_data(family, &cluster(), &node(), Some(broken)).unwrap_err();
            assert!(err.to_string().starts_with("spec.userData: "), "{err}");
        }
    }
}

/// Upstream: "should copy over userData untouched when AMIFamily is Custom".
#[test]
fn custom_user_data_is_passed_through_unchanged() {
    let user = "[settings]\nnot = \"merged\"\n";
    assert_eq!(
        user_data(AmiFamily::Custom, &cluster(), &node(), Some(user)).unwrap(),
        user
    );
    assert_eq!(
        user_data(AmiFamily::Custom, &cluster(), &node(), None).unwrap(),
        ""
    );
}

#[test]
fn the_ca_bundle_is_base64_of_the_pem_certificates() {
    use aws_smithy_types::base64;
    let der: Vec<u8> = (0u8..100).collect();
    let ca = ca_bundle_from_der(&[der.clone(), vec![1, 2, 3]]).expect("a bundle");
    let pem = String::from_utf8(base64::decode(ca).expect("base64")).expect("utf-8");
    let blocks: Vec<&str> = pem.split("-----END CERTIFICATE-----\n").collect();
    assert_eq!(blocks.len(), 3, "{pem}");
    let first: String = blocks[0]
        .trim_start_matches("-----BEGIN CERTIFICATE-----\n")
        .lines()
        .inspect(|l| assert!(l.len() <= 64, "{l}"))
        .collect();
    assert_eq!(base64::decode(first).expect("base64"), der);
    assert!(ca_bundle_from_der(&[]).is_none());
}
