//! The reason a pod stays pending when no instance type can hold it names
//! what rules the types out: a requirement no type offers by itself ("no
//! instance type offers K ..."), a requirement that empties the list only
//! together with the ones before it ("... together with ..."), or the
//! resource no type has enough of. Each row names the Karpenter test of
//! `pkg/controllers/provisioning/scheduling/` it mirrors (Karpenter only
//! leaves such a pod unscheduled; the words are kerf's).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::*;
use kerf_core::instance_type::{InstanceType, Overhead};
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;

const ARCH: &str = "kubernetes.io/arch";
const ZONE: &str = "topology.kubernetes.io/zone";
const GPU_MAKER: &str = "karpenter.k8s.aws/instance-gpu-manufacturer";
const GPU_NAME: &str = "karpenter.k8s.aws/instance-gpu-name";

/// Every key a reason could name here.
const KEYS: [&str; 6] = [
    ARCH,
    ZONE,
    GPU_MAKER,
    GPU_NAME,
    "kubernetes.io/os",
    "karpenter.sh/capacity-type",
];

/// An on-demand type offered in `zones`, with `labels` beside arch and os.
fn typed(name: &str, arch: &str, zones: &[&str], labels: &[(&str, &str)]) -> Arc<InstanceType> {
    let mut all: BTreeMap<String, String> = [(ARCH, arch), ("kubernetes.io/os", "linux")]
        .into_iter()
        .chain(labels.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.insert(
        "karpenter.k8s.aws/instance-family".into(),
        name.split('.').next().unwrap_or(name).into(),
    );
    // The common catalogue's on-demand offerings, in `zones` only.
    let offerings = instance(name, 4, 16, 0.1, arch)
        .offerings
        .iter()
        .filter(|o| o.capacity_type == "on-demand" && zones.contains(&o.zone.as_str()))
        .cloned()
        .collect();
    Arc::new(InstanceType::new(
        name,
        all,
        Resources::new(4000, 16 << 30, 58),
        Overhead::default(),
        offerings,
    ))
}

/// The common catalogue's amd64 types, an AMD GPU type (amd64 only, as
/// g4ad), and an arm64 type missing from zone-b.
fn types() -> Vec<Arc<InstanceType>> {
    let mut types: Vec<_> = catalogue()
        .into_iter()
        .filter(|t| t.requirements.get(ARCH).is_some_and(|r| r.has("amd64")))
        .collect();
    types.push(typed(
        "g4ad.xlarge",
        "amd64",
        &ZONES,
        &[(GPU_MAKER, "amd"), (GPU_NAME, "radeon-pro-v520")],
    ));
    types.push(typed("g.large", "arm64", &["zone-a", "zone-c"], &[]));
    types
}

/// The keys of `KEYS` that `text` names.
fn named(text: &str) -> BTreeSet<&'static str> {
    KEYS.iter().copied().filter(|k| text.contains(k)).collect()
}

/// One row: the pod's spec (YAML indented 2; a 100m container unless it
/// has its own), the key the reason names as
/// the one no type offers (None: a resource reason), the keys it is named
/// "together with", and the resource a resource reason names.
struct Row {
    upstream: &'static str,
    spec: &'static str,
    offers: Option<&'static str>,
    together: &'static [&'static str],
    resource: Option<&'static str>,
}

const CONTAINER: &str = "  containers: [{name: c, image: i, resources: {requests: {cpu: 100m}}}]\n";

#[test]
fn the_reason_names_what_no_instance_type_offers() {
    let rows = [
        Row {
            // A value of a label no type carries, alone.
            upstream: "instance_selection_test.go: should not schedule if no instance type \
                       matches selector (pod arch = arm)",
            spec: "  nodeSelector: {karpenter.k8s.aws/instance-gpu-name: nosuch}\n",
            offers: Some(GPU_NAME),
            together: &[],
            resource: None,
        },
        Row {
            // Each satisfiable alone (g4ad, g.large), not together.
            upstream: "(kerf) the GPU-maker twin of instance_selection_test.go: should not \
                       schedule if no instance type matches selector (pod arch = arm \
                       zone=test-zone-2)",
            spec: "  nodeSelector: {karpenter.k8s.aws/instance-gpu-manufacturer: amd, \
                   kubernetes.io/arch: arm64}\n",
            offers: Some(GPU_MAKER),
            together: &[ARCH],
            resource: None,
        },
        Row {
            upstream: "instance_selection_test.go: should not schedule if no instance type \
                       matches selector (pod arch = arm zone=test-zone-2)",
            spec: "  nodeSelector: {kubernetes.io/arch: arm64, topology.kubernetes.io/zone: \
                   zone-b}\n",
            // The zone is read first: arch is what empties the list.
            offers: Some(ARCH),
            together: &[ZONE],
            resource: None,
        },
        Row {
            upstream: "suite_test.go: should not schedule pods that exceed every instance \
                       type's capacity",
            spec: "  containers: [{name: c, image: i, resources: {requests: {memory: 2Ti}}}]\n",
            offers: None,
            together: &[],
            resource: Some("memory"),
        },
    ];
    for row in &rows {
        let spec = if row.spec.contains("containers:") {
            row.spec.to_string()
        } else {
            format!("{}{CONTAINER}", row.spec)
        };
        let mut tmpl = template("default", &[]);
        tmpl.instance_types = types();
        let snap = snapshot(vec![tmpl], pods("p", 1, "{}", &spec));
        let plan = solve(&snap);
        assert!(
            plan.new_nodes.is_empty(),
            "{}: {:?}",
            row.upstream,
            plan.new_nodes
        );
        assert_eq!(plan.unschedulable.len(), 1, "{}", row.upstream);
        let full = &plan.unschedulable[0].reason;
        let reason = full
            .strip_prefix("provisioner default: ")
            .unwrap_or_else(|| panic!("{}: the reason names the pool: {full}", row.upstream));
        match row.offers {
            Some(key) => {
                let rest = reason
                    .strip_prefix("no instance type offers ")
                    .unwrap_or_else(|| panic!("{}: {reason}", row.upstream));
                let (offending, before) = match rest.split_once(" together with ") {
                    Some((o, b)) => (o, b),
                    None => (rest, ""),
                };
                assert_eq!(
                    named(offending),
                    BTreeSet::from([key]),
                    "{}: {reason}",
                    row.upstream
                );
                assert_eq!(
                    named(before),
                    row.together.iter().copied().collect::<BTreeSet<_>>(),
                    "{}: {reason}",
                    row.upstream
                );
                assert_eq!(
                    reason.contains(" together with "),
                    !row.together.is_empty(),
                    "{}: {reason}",
                    row.upstream
                );
            }
            None => {
                let resource = row.resource.expect("a resource row");
                assert!(
                    reason.starts_with(&format!("the pod asks for 2Ti {resource} ")),
                    "{}: {reason}",
                    row.upstream
                );
                assert!(named(reason).is_empty(), "{}: {reason}", row.upstream);
            }
        }
    }
}
