//! Node selector requirements and label selectors, built from the fuzzer's
//! bytes: building one never panics and a bad one is an error naming its key;
//! the requirements algebra agrees with plain membership (an intersection
//! allows exactly what both sides allow; `overlaps`/`intersects` never deny a
//! value or node both sides accept); a pod's required node selector term
//! compiles to the same requirements, or fails when one expression does; and
//! a compiled label selector matches exactly the labels the same
//! expressions as requirements match.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Result, Unstructured};
use k8s_openapi::api::core::v1::{
    Affinity, Container, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    Pod, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kerf_core::requirements::{Requirement, Requirements};
use kerf_core::selector::Selector;

const KEYS: &[&str] = &[
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch",
    "beta.kubernetes.io/arch",
    "karpenter.sh/capacity-type",
    "karpenter.k8s.aws/instance-cpu",
    "team",
];
const OPERATORS: &[&str] = &[
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
    "Gt",
    "Lt",
    "Gte",
    "Lte",
];
const VALUES: &[&str] = &[
    "us-east-1a",
    "us-east-1b",
    "amd64",
    "arm64",
    "spot",
    "on-demand",
    "0",
    "1",
    "2",
    "4",
    "16",
    "-1",
    "+3",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "",
];

pub fn check(data: &[u8]) {
    // Out of bytes part-way is not a finding.
    let _ = check_structured(&mut Unstructured::new(data));
}

fn check_structured(u: &mut Unstructured) -> Result<()> {
    let left = expressions(u)?;
    let right = expressions(u)?;
    let a = build(&left);
    let b = build(&right);
    check_pod(&left, a.as_ref());
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(());
    };
    let mut candidates: BTreeSet<String> = VALUES.iter().map(|v| v.to_string()).collect();
    for r in a.iter().chain(b.iter()) {
        candidates.extend(r.values.iter().cloned());
        for bound in [r.gt, r.lt].into_iter().flatten() {
            for n in [bound.saturating_sub(1), bound, bound.saturating_add(1)] {
                candidates.insert(n.to_string());
            }
        }
    }
    for ra in a.iter() {
        if let Some(rb) = b.get(&ra.key) {
            check_pair(ra, rb, &candidates);
        }
    }
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let candidates: Vec<&String> = candidates.iter().collect();
    let both = a.intersection(&b);
    for _ in 0..u.int_in_range(0..=8)? {
        let mut labels = BTreeMap::new();
        for key in &keys {
            if u.arbitrary()? {
                labels.insert(key.to_string(), u.choose(&candidates)?.to_string());
            }
        }
        let in_a = a.matches_labels(&labels).is_ok();
        let in_b = b.matches_labels(&labels).is_ok();
        assert_eq!(
            both.matches_labels(&labels).is_ok(),
            in_a && in_b,
            "{labels:?}: ({a}) ∩ ({b}) = ({both})"
        );
        if in_a && in_b {
            assert!(a.intersects(&b).is_ok(), "{labels:?} fits ({a}) and ({b})");
        }
    }
    check_selector(u, &left)?;
    Ok(())
}

fn pick(u: &mut Unstructured, known: &[&str], one_in: u8) -> Result<String> {
    if u.ratio(1, one_in)? {
        u.arbitrary()
    } else {
        Ok(u.choose(known)?.to_string())
    }
}

fn expressions(u: &mut Unstructured) -> Result<Vec<NodeSelectorRequirement>> {
    let n = u.int_in_range(1..=4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let key = pick(u, KEYS, 8)?;
        let operator = pick(u, OPERATORS, 16)?;
        let count = u.int_in_range(0..=3)?;
        let values = (0..count)
            .map(|_| pick(u, VALUES, 4))
            .collect::<Result<Vec<_>>>()?;
        let values = if values.is_empty() && u.arbitrary()? {
            None
        } else {
            Some(values)
        };
        out.push(NodeSelectorRequirement {
            key,
            operator,
            values,
        });
    }
    Ok(out)
}

/// The expressions as requirements, or `None` if one is rejected (checking
/// that the error names the key).
fn build(exprs: &[NodeSelectorRequirement]) -> Option<Requirements> {
    let mut out = Requirements::new();
    for e in exprs {
        match Requirement::from_node_selector(e) {
            Ok(r) => {
                assert_eq!(r.key, kerf_api::labels::normalize_label_key(&e.key));
                out.add(r);
            }
            Err(err) => {
                assert_eq!(err.key, kerf_api::labels::normalize_label_key(&e.key));
                assert!(!err.message.is_empty(), "{e:?}");
                return None;
            }
        }
    }
    Some(out)
}

fn check_pair(a: &Requirement, b: &Requirement, candidates: &BTreeSet<String>) {
    let both = a.intersection(b);
    assert_eq!(
        both.allows_absent(),
        a.allows_absent() && b.allows_absent(),
        "absence: ({a}) ∩ ({b}) = ({both})"
    );
    assert_eq!(a.overlaps(b), b.overlaps(a), "overlaps: ({a}), ({b})");
    for v in candidates {
        let in_both = a.has(v) && b.has(v);
        assert_eq!(both.has(v), in_both, "{v:?}: ({a}) ∩ ({b}) = ({both})");
        if in_both {
            assert!(a.overlaps(b), "{v:?} is in ({a}) and ({b})");
        }
    }
}

/// A pod whose one required node selector term is `exprs` needs exactly
/// their requirements; if one expression is rejected, so is the pod.
fn check_pod(exprs: &[NodeSelectorRequirement], want: Option<&Requirements>) {
    let pod = Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("fuzz".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                ..Default::default()
            }],
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(exprs.to_vec()),
                            match_fields: None,
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    };
    let compiled = kerf_core::pod::compile(&pod, &Requirements::new());
    match (compiled, want) {
        (Ok(info), Some(want)) => assert_eq!(&info.node_requirements(), want, "{exprs:?}"),
        (Err(e), Some(_)) => {
            panic!("{exprs:?}: the pod is rejected ({e}), its expressions are not")
        }
        (Ok(info), None) => {
            panic!("{exprs:?}: an expression is rejected, the pod is not: {info:?}")
        }
        (Err(_), None) => {}
    }
}

/// The expressions with label-selector operators as a `LabelSelector`
/// match the same labels as they do as requirements.
fn check_selector(u: &mut Unstructured, exprs: &[NodeSelectorRequirement]) -> Result<()> {
    let plain: Vec<&NodeSelectorRequirement> = exprs
        .iter()
        .filter(|e| kerf_api::labels::normalize_label_key(&e.key) == e.key)
        .filter(|e| match e.operator.as_str() {
            // An empty In/NotIn is invalid in a label selector.
            "In" | "NotIn" => e.values.as_ref().is_some_and(|v| !v.is_empty()),
            op => matches!(op, "Exists" | "DoesNotExist"),
        })
        .collect();
    let selector = LabelSelector {
        match_labels: None,
        match_expressions: Some(
            plain
                .iter()
                .map(|e| LabelSelectorRequirement {
                    key: e.key.clone(),
                    operator: e.operator.clone(),
                    values: e.values.clone(),
                })
                .collect(),
        ),
    };
    let compiled = Selector::compile(&selector, "fuzz").expect("only valid operators");
    let Some(reqs) = build(&plain.into_iter().cloned().collect::<Vec<_>>()) else {
        panic!("{selector:?}: valid label selector expressions rejected as requirements");
    };
    let keys: Vec<&String> = reqs.keys().collect();
    for _ in 0..u.int_in_range(0..=8)? {
        let mut labels = BTreeMap::new();
        for key in &keys {
            if u.arbitrary()? {
                labels.insert(key.to_string(), pick(u, VALUES, 4)?);
            }
        }
        assert_eq!(
            compiled.matches(&labels),
            reqs.matches_labels(&labels).is_ok(),
            "{labels:?}: selector {selector:?} vs requirements {reqs}"
        );
    }
    Ok(())
}
