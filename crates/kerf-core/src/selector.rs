//! Label selectors (matchLabels + matchExpressions) and the namespace scope of
//! pod affinity terms, compiled once so matching is cheap.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use crate::field::FieldError;

/// A compiled label selector. `None` expressions never occur: an invalid
/// operator is rejected when compiling, so a typo cannot select everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Selector {
    exprs: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
enum Expr {
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// The selector that matches every object (`{}`).
    pub fn everything() -> Self {
        Selector { exprs: Vec::new() }
    }

    /// Compiles a Kubernetes label selector. `field` names it in errors.
    pub fn compile(selector: &LabelSelector, field: &str) -> Result<Self, FieldError> {
        let mut exprs = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            exprs.push(Expr::In(k.clone(), [v.clone()].into_iter().collect()));
        }
        for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
            let values: BTreeSet<String> = e.values.iter().flatten().cloned().collect();
            let key = e.key.clone();
            exprs.push(match e.operator.as_str() {
                "In" => Expr::In(key, values),
                "NotIn" => Expr::NotIn(key, values),
                "Exists" => Expr::Exists(key),
                "DoesNotExist" => Expr::DoesNotExist(key),
                other => {
                    return Err(FieldError::new(
                        format!("{field}.matchExpressions[{i}].operator"),
                        format!("{other:?} is not one of In, NotIn, Exists, DoesNotExist"),
                    ));
                }
            });
        }
        exprs.sort();
        exprs.dedup();
        Ok(Selector { exprs })
    }

    /// Adds `key In [value]` (used for matchLabelKeys, which pin a label to the pod's own value).
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.exprs.push(Expr::In(
            key.to_string(),
            [value.to_string()].into_iter().collect(),
        ));
        self.exprs.sort();
        self.exprs.dedup();
        self
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.exprs.iter().all(|e| match e {
            Expr::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Expr::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Expr::Exists(k) => labels.contains_key(k),
            Expr::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// Which namespaces a pod affinity term or spread constraint looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NamespaceScope {
    /// Exactly these namespaces (the pod's own when the term lists none).
    Named(BTreeSet<String>),
    /// Named ones plus every namespace whose labels match.
    Selected {
        named: BTreeSet<String>,
        selector: Selector,
    },
}

impl NamespaceScope {
    pub fn contains(
        &self,
        namespace: &str,
        namespace_labels: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> bool {
        match self {
            NamespaceScope::Named(names) => names.contains(namespace),
            NamespaceScope::Selected { named, selector } => {
                named.contains(namespace) || {
                    let empty = BTreeMap::new();
                    selector.matches(namespace_labels.get(namespace).unwrap_or(&empty))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let s = Selector::compile(&sel, "spec.selector").expect("valid");
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "api")])));
        assert!(Selector::everything().matches(&labels(&[])));
    }

    #[test]
    fn bad_operator_names_the_field() {
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Is".into(),
                values: None,
            }]),
        };
        let err = Selector::compile(&sel, "spec.affinity").expect_err("invalid");
        assert_eq!(err.field, "spec.affinity.matchExpressions[0].operator");
        assert!(err.message.contains("\"Is\" is not one of"), "{err}");
    }
}
