//! Label selectors and affinity terms read straight from the API objects.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum SelOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A label selector. `nothing` is the nil selector (matches no object).
#[derive(Clone, Debug)]
pub(super) struct Sel {
    pub(super) nothing: bool,
    pub(super) reqs: Vec<(String, SelOp, BTreeSet<String>)>,
}

impl Sel {
    pub(super) fn nothing() -> Sel {
        Sel {
            nothing: true,
            reqs: Vec::new(),
        }
    }

    pub(super) fn from(sel: Option<&LabelSelector>) -> Sel {
        let Some(sel) = sel else {
            return Sel::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push((k.clone(), SelOp::In, [v.clone()].into_iter().collect()));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values: BTreeSet<String> = e.values.iter().flatten().cloned().collect();
            let op = match e.operator.as_str() {
                "In" => SelOp::In,
                "NotIn" => SelOp::NotIn,
                "Exists" => SelOp::Exists,
                "DoesNotExist" => SelOp::DoesNotExist,
                // kube-scheduler fails to parse the selector; treat it as matching nothing.
                _ => return Sel::nothing(),
            };
            reqs.push((e.key.clone(), op, values));
        }
        Sel {
            nothing: false,
            reqs,
        }
    }

    pub(super) fn with(mut self, key: &str, op: SelOp, value: &str) -> Sel {
        if !self.nothing {
            self.reqs.push((
                key.to_string(),
                op,
                [value.to_string()].into_iter().collect(),
            ));
        }
        self
    }

    /// `labels.Selector.Empty()`: no requirements (matches everything).
    pub(super) fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    pub(super) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing
            && self.reqs.iter().all(|(k, op, values)| match op {
                SelOp::In => labels.get(k).is_some_and(|v| values.contains(v)),
                SelOp::NotIn => labels.get(k).is_none_or(|v| !values.contains(v)),
                SelOp::Exists => labels.contains_key(k),
                SelOp::DoesNotExist => !labels.contains_key(k),
            })
    }
}

/// A pod (anti-)affinity term as kube-scheduler's `framework.AffinityTerm`.
#[derive(Clone, Debug)]
pub(super) struct Term {
    pub(super) key: String,
    pub(super) namespaces: BTreeSet<String>,
    pub(super) namespace_selector: Option<Sel>,
    pub(super) selector: Sel,
}

impl Term {
    pub(super) fn new(
        t: &PodAffinityTerm,
        own_namespace: &str,
        own_labels: &BTreeMap<String, String>,
    ) -> Term {
        let mut selector = Sel::from(t.label_selector.as_ref());
        for k in t.match_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                selector = selector.with(k, SelOp::In, v);
            }
        }
        for k in t.mismatch_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                selector = selector.with(k, SelOp::NotIn, v);
            }
        }
        let listed: BTreeSet<String> = t.namespaces.iter().flatten().cloned().collect();
        let namespaces = if listed.is_empty() && t.namespace_selector.is_none() {
            [own_namespace.to_string()].into_iter().collect()
        } else {
            listed
        };
        Term {
            key: t.topology_key.clone(),
            namespaces,
            namespace_selector: t.namespace_selector.as_ref().map(|s| Sel::from(Some(s))),
            selector,
        }
    }

    pub(super) fn matches(
        &self,
        pod: &PodRec,
        ns_labels: &dyn Fn(&str) -> BTreeMap<String, String>,
    ) -> bool {
        let in_scope = self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(&ns_labels(&pod.namespace)));
        in_scope && self.selector.matches(&pod.labels)
    }
}
