//! Tests of the Bottlerocket TOML merge, each reading the result back with
//! `toml`.

use toml::{Table, Value};

use super::super::{AmiFamily, NodeBootstrap, user_data};
use super::{cluster, node};

fn merged(custom: Option<&str>) -> Table {
    let ud = user_data(AmiFamily::Bottlerocket, &cluster(), &node(), custom).unwrap();
    // One `[settings.kubernetes]`: a repeated table is what broke nodes.
    assert!(ud.matches("[settings.kubernetes]").count() <= 1, "{ud}");
    ud.parse()
        .unwrap_or_else(|e| panic!("merged TOML reads back: {e}\n{ud}"))
}

fn k8s(doc: &Table) -> &Table {
    doc["settings"]["kubernetes"].as_table().unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

#[test]
fn bottlerocket_writes_toml_settings() {
    let doc = merged(None);
    assert_eq!(doc.keys().collect::<Vec<_>>(), ["settings"]);
    let k = k8s(&doc);
    assert_eq!(k["cluster-name"], s("demo"));
    assert_eq!(k["api-server"], s("https://api.demo.example"));
    assert_eq!(k["cluster-certificate"], s("Q0E="));
    assert_eq!(k["cluster-dns-ip"], s("10.100.0.10"));
    assert_eq!(k["max-pods"], Value::Integer(29));
    assert_eq!(k["node-labels"]["karpenter.sh/nodepool"], s("default"));
    assert_eq!(
        k["node-taints"]["dedicated"],
        Value::Array(vec![s("gpu:NoSchedule")])
    );
}

/// Upstream: launchtemplate suite, "Bottlerocket" / "should merge in custom
/// user data" (`br_userdata_input.golden` and `br_userdata_merged.golden`).
#[test]
fn bottlerocket_merges_the_users_settings_under_kerfs() {
    let user = r#"
[settings.kubernetes]
"unknown-setting" = "unknown"
api-server = 'replaceme'
cloud-provider = 'external'
cluster-certificate = "replaceme"
cluster-name = 'replaceme'
max-pods = 9999999999 # replaceme

[settings.kubernetes.eviction-hard]
"memory.available" = "12%"

[settings.kubernetes.labels]
"replace" = "me"

[settings.kubernetes.node-labels]
"custom-node-label" = "custom"
"karpenter.sh/nodepool" = "should-be-overridden"

[settings.kubernetes.node-taints]
"replace" = ["me:Schedule"]

[settings.network]
hostname = "test.local"
https-proxy = "1.2.3.4:8080"
no-proxy = ["localhost", "127.0.0.1"]
hosts = [["10.0.0.0", ["test.example.com", "test1.example.com"]]]

[settings.ntp]
time-servers = ["169.254.169.123"]
"#;
    let doc = merged(Some(user));
    let k = k8s(&doc);
    // Kerf's fields win.
    assert_eq!(k["cluster-name"], s("demo"));
    assert_eq!(k["api-server"], s("https://api.demo.example"));
    assert_eq!(k["cluster-certificate"], s("Q0E="));
    assert_eq!(k["max-pods"], Value::Integer(29));
    assert_eq!(k["cluster-dns-ip"], s("10.100.0.10"));
    // Labels merge, kerf's over the user's; taints are kerf's alone.
    let labels = k["node-labels"].as_table().unwrap();
    assert_eq!(labels["custom-node-label"], s("custom"));
    assert_eq!(labels["karpenter.sh/nodepool"], s("default"));
    assert_eq!(labels["karpenter.sh/capacity-type"], s("spot"));
    let taints = k["node-taints"].as_table().unwrap();
    assert_eq!(taints.keys().collect::<Vec<_>>(), ["dedicated"]);
    // Known settings kerf does not set are the user's; unknown ones go.
    assert_eq!(k["cloud-provider"], s("external"));
    assert_eq!(k["eviction-hard"]["memory.available"], s("12%"));
    assert!(!k.contains_key("unknown-setting") && !k.contains_key("labels"));
    // Other settings tables are kept whole.
    let network = doc["settings"]["network"].as_table().unwrap();
    assert_eq!(network["hostname"], s("test.local"));
    assert_eq!(network["https-proxy"], s("1.2.3.4:8080"));
    assert_eq!(
        network["hosts"].to_string(),
        r#"[["10.0.0.0", ["test.example.com", "test1.example.com"]]]"#
    );
    assert_eq!(
        doc["settings"]["ntp"]["time-servers"],
        Value::Array(vec![s("169.254.169.123")])
    );
}

/// What kerf does not know (no DNS IP, no max pods) stays the user's.
#[test]
fn bottlerocket_keeps_the_users_values_kerf_does_not_set() {
    let mut c = cluster();
    c.dns_ip = None;
    let mut n = node();
    n.max_pods = None;
    n.taints.clear();
    let user = "[settings.kubernetes]\ncluster-dns-ip = \"172.20.0.10\"\nmax-pods = 58\n\n[settings.host-containers.admin]\nenabled = true\n\n[settings.kernel.sysctl]\n\"vm.max_map_count\" = \"262144\"\n";
    let ud = user_data(AmiFamily::Bottlerocket, &c, &n, Some(user)).unwrap();
    let doc: Table = ud.parse().unwrap();
    let k = k8s(&doc);
    assert_eq!(k["cluster-dns-ip"], s("172.20.0.10"));
    assert_eq!(k["max-pods"], Value::Integer(58));
    assert!(!k.contains_key("node-taints"));
    assert_eq!(
        doc["settings"]["host-containers"]["admin"]["enabled"],
        Value::Boolean(true)
    );
    assert_eq!(
        doc["settings"]["kernel"]["sysctl"]["vm.max_map_count"],
        s("262144")
    );
}

/// Upstream: bottlerocket_test "MemoryManagerReservedMemory" / "should
/// round-trip through marshal/unmarshal" and "should support multiple NUMA
/// nodes".
#[test]
fn bottlerocket_keeps_structured_kubernetes_settings() {
    let user = "[settings.kubernetes]\n\"memory-manager-policy\" = \"Static\"\n\n[settings.kubernetes.memory-manager-reserved-memory.0]\nenabled = true\nmemory = \"400Mi\"\n\n[settings.kubernetes.memory-manager-reserved-memory.1]\nenabled = true\nmemory = \"327Mi\"\nhugepages-2Mi = \"64Mi\"\n";
    let doc = merged(Some(user));
    let k = k8s(&doc);
    assert_eq!(k["memory-manager-policy"], s("Static"));
    let reserved = k["memory-manager-reserved-memory"].as_table().unwrap();
    assert_eq!(reserved.len(), 2);
    assert_eq!(reserved["0"]["memory"], s("400Mi"));
    assert_eq!(reserved["1"]["hugepages-2Mi"], s("64Mi"));
    assert_eq!(reserved["1"]["enabled"], Value::Boolean(true));
}

/// Upstream: launchtemplate suite, "Bottlerocket" / "should not bootstrap on
/// invalid toml user data".
#[test]
fn bottlerocket_refuses_user_data_that_is_not_toml() {
    for bad in [
        "#/bin/bash\n ./not-toml.sh",
        "[settings.kubernetes]\nmax-pods = 1\n[settings.kubernetes]\nmax-pods = 2\n",
    ] {
        let err = user_data(AmiFamily::Bottlerocket, &cluster(), &node(), Some(bad)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("spec.userData: not valid TOML"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    let err = user_data(
        AmiFamily::Bottlerocket,
        &cluster(),
        &node(),
        Some(
            "[settings.kubernetes]
max-pods = 1
max-pods = 2
",
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("(line 3)"), "{err}");
}

#[test]
fn bottlerocket_refuses_settings_of_the_wrong_type() {
    for (bad, names) in [
        (
            "[settings.kubernetes]\nmax-pods = \"ten\"\n",
            "settings.kubernetes.max-pods",
        ),
        (
            "[settings.kubernetes.node-labels]\nteam = 7\n",
            "settings.kubernetes.node-labels",
        ),
        ("settings = 3\n", "settings must be a table"),
        (
            "[settings]\nkubernetes = \"x\"\n",
            "settings.kubernetes must be a table",
        ),
    ] {
        let err = user_data(AmiFamily::Bottlerocket, &cluster(), &node(), Some(bad)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("spec.userData: ") && msg.contains(names),
            "{msg}"
        );
    }
}

/// Upstream launchtemplate suite, "instanceStorePolicy" on Bottlerocket: a
/// bootstrap command sets up the instance store and binds the kubelet's and
/// containerd's directories on it; the user's own bootstrap commands stay.
#[test]
fn bottlerocket_raid0_adds_the_instance_store_bootstrap_command() {
    let raid0 = NodeBootstrap {
        raid0: true,
        ..node()
    };
    let user = "[settings.bootstrap-commands.010-mine]\ncommands = [[\"echo\", \"hi\"]]\nmode = \"once\"\n";
    let ud = user_data(AmiFamily::Bottlerocket, &cluster(), &raid0, Some(user)).unwrap();
    let doc: Table = ud.parse().unwrap();
    let commands = doc["settings"]["bootstrap-commands"].as_table().unwrap();
    let mount = commands["000-mount-instance-storage"].as_table().unwrap();
    assert_eq!(mount["essential"].as_bool(), Some(true));
    assert_eq!(mount["mode"].as_str(), Some("always"));
    let run: Vec<Vec<&str>> = mount["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(run[0], ["apiclient", "ephemeral-storage", "init"]);
    assert_eq!(
        run[1][..4],
        ["apiclient", "ephemeral-storage", "bind", "--dirs"]
    );
    assert!(run[1].contains(&"/var/lib/kubelet"));
    assert!(
        commands.contains_key("010-mine"),
        "the user's command stays"
    );
    let plain = user_data(AmiFamily::Bottlerocket, &cluster(), &node(), None).unwrap();
    assert!(!plain.contains("bootstrap-commands"), "{plain}");
}
