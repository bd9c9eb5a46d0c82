//! `minValues`: a NodePool requirement may ask that a node's instance-type
//! options span at least that many distinct values of its key (say five
//! instance families), so that a launch has room to pick among capacity
//! pools. Karpenter checks it whenever a pod narrows a node's options and
//! again on the options kept for launch; with its default policy (Strict) a
//! pod that would leave too few values stays pending, and with BestEffort the
//! requirement is lowered to what is left and the NodeClaim annotated.

use std::collections::BTreeSet;
use std::fmt;

use crate::instance_type::InstanceType;
use crate::requirements::Requirements;

/// Keys whose minValues the options do not meet: (key, values found, minValues).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Shortfall(pub(super) Vec<(String, u32, u32)>);

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(key, have, need)| format!("{key} has {have} value(s), minValues is {need}"))
            .collect();
        write!(
            f,
            "minValues requirement is not met for label(s): {}",
            parts.join("; ")
        )
    }
}

/// Whether `options` span minValues values for every key of `requirements`
/// that sets one (Karpenter's `SatisfiesMinValues`: the values an option's
/// own requirements allow on the key, so a type lacking the label adds none).
pub(super) fn shortfall<'a>(
    requirements: &Requirements,
    options: impl Iterator<Item = &'a InstanceType> + Clone,
) -> Option<Shortfall> {
    let mut short = Vec::new();
    for r in requirements.iter() {
        let Some(need) = r.min_values else {
            continue;
        };
        let mut values: BTreeSet<&str> = BTreeSet::new();
        for it in options.clone() {
            if let Some(own) = it.requirements.get(&r.key).filter(|o| !o.complement) {
                values.extend(own.values.iter().map(String::as_str));
            }
            if values.len() >= need as usize {
                break;
            }
        }
        if values.len() < need as usize {
            short.push((r.key.clone(), values.len() as u32, need));
        }
    }
    (!short.is_empty()).then_some(Shortfall(short))
}

/// BestEffort: each short key's minValues becomes what the options hold.
pub(super) fn relax(requirements: &mut Requirements, short: &Shortfall) {
    for (key, have, _) in &short.0 {
        if let Some(mut r) = requirements.remove(key) {
            r.min_values = Some(*have);
            requirements.add(r);
        }
    }
}

/// Whether any requirement sets minValues.
pub(super) fn any(requirements: &Requirements) -> bool {
    requirements.iter().any(|r| r.min_values.is_some())
}
