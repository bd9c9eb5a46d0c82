//! The requirements algebra: a set of allowed values per label key, built from
//! node selector requirements (In, NotIn, Exists, DoesNotExist, Gt, Lt), and the
//! operations the scheduler needs on it — intersection, compatibility and
//! membership. Pod node selectors and affinity, NodePool requirements, instance
//! type labels and offerings all become `Requirements`, so one piece of code
//! decides whether they agree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// The allowed values of one label key.
///
/// `complement == false`: exactly the values in `values` (empty means the label
/// must not exist). `complement == true`: any value except those in `values`
/// (empty means the label must exist). `gt`/`lt` further bound integer values
/// (and so demand the label).
///
/// `must_exist` removes "no label" from the shapes that would otherwise allow
/// it, so an intersection never gains a node it should not: `In [a] ∩
/// DoesNotExist` allows nothing at all (not `DoesNotExist`), and `Exists ∩
/// NotIn [a]` still needs the label (not plain `NotIn [a]`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub complement: bool,
    pub values: BTreeSet<String>,
    pub gt: Option<i64>,
    pub lt: Option<i64>,
    /// NodePool `minValues`: how many distinct values the launch must keep.
    pub min_values: Option<u32>,
    /// The label must exist even where the shape alone would allow its absence.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_exist: bool,
}

/// The operator a requirement reads as, for compatibility rules and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// Why a requirement could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct RequirementError {
    pub key: String,
    pub message: String,
}

impl Requirement {
    pub fn in_values<I, S>(key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Requirement {
            key: key.to_string(),
            complement: false,
            values: values.into_iter().map(Into::into).collect(),
            gt: None,
            lt: None,
            min_values: None,
            must_exist: false,
        }
    }

    /// A requirement no node satisfies (with or without the label): what two
    /// contradictory requirements on one key intersect to.
    pub fn nothing(key: &str) -> Self {
        Requirement {
            must_exist: true,
            ..Requirement::does_not_exist(key)
        }
    }

    /// True when no node can satisfy it, labelled or not.
    pub fn is_unsatisfiable(&self) -> bool {
        self.is_empty() && !self.allows_absent()
    }

    pub fn not_in<I, S>(key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Requirement {
            complement: true,
            ..Requirement::in_values(key, values)
        }
    }

    pub fn exists(key: &str) -> Self {
        Requirement::not_in(key, Vec::<String>::new())
    }

    pub fn does_not_exist(key: &str) -> Self {
        Requirement::in_values(key, Vec::<String>::new())
    }

    /// Builds a requirement from an operator and values, normalising beta label keys.
    pub fn new(key: &str, operator: &str, values: &[String]) -> Result<Self, RequirementError> {
        let key = kerf_api::labels::normalize_label_key(key);
        let err = |message: String| RequirementError {
            key: key.to_string(),
            message,
        };
        let integer = || -> Result<i64, RequirementError> {
            match values {
                [one] => one
                    .parse::<i64>()
                    .map_err(|_| err(format!("{operator} needs an integer value, got {one:?}"))),
                _ => Err(err(format!(
                    "{operator} needs exactly one value, got {}",
                    values.len()
                ))),
            }
        };
        Ok(match operator {
            "In" => Requirement::in_values(key, values.iter().cloned()),
            "NotIn" => Requirement::not_in(key, values.iter().cloned()),
            "Exists" => Requirement::exists(key),
            "DoesNotExist" => Requirement::does_not_exist(key),
            "Gt" => Requirement {
                gt: Some(integer()?),
                ..Requirement::exists(key)
            },
            "Lt" => Requirement {
                lt: Some(integer()?),
                ..Requirement::exists(key)
            },
            // Bounds are kept exclusive: `Gte n` is `Gt n-1`. At the ends of
            // the i64 range that saturates, so `Gte i64::MIN` (`Lte i64::MAX`)
            // leaves out that one value instead of overflowing.
            "Gte" => Requirement {
                gt: Some(integer()?.saturating_sub(1)),
                ..Requirement::exists(key)
            },
            "Lte" => Requirement {
                lt: Some(integer()?.saturating_add(1)),
                ..Requirement::exists(key)
            },
            other => {
                return Err(err(format!(
                    "{other:?} is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt"
                )));
            }
        })
    }

    pub fn from_node_selector(r: &NodeSelectorRequirement) -> Result<Self, RequirementError> {
        Requirement::new(&r.key, &r.operator, r.values.as_deref().unwrap_or(&[]))
    }

    pub fn operator(&self) -> Operator {
        match (self.complement, self.values.is_empty()) {
            (true, true) => Operator::Exists,
            (true, false) => Operator::NotIn,
            (false, true) => Operator::DoesNotExist,
            (false, false) => Operator::In,
        }
    }

    fn within_bounds(&self, value: &str) -> bool {
        if self.gt.is_none() && self.lt.is_none() {
            return true;
        }
        let Ok(n) = value.parse::<i64>() else {
            return false;
        };
        self.gt.is_none_or(|gt| n > gt) && self.lt.is_none_or(|lt| n < lt)
    }

    /// True if the bounds leave no integer at all.
    fn bounds_empty(&self) -> bool {
        matches!((self.gt, self.lt), (Some(gt), Some(lt)) if lt <= gt.saturating_add(1))
    }

    /// Whether a node with this label value satisfies the requirement.
    pub fn has(&self, value: &str) -> bool {
        if self.complement {
            !self.values.contains(value) && self.within_bounds(value)
        } else {
            self.values.contains(value) && self.within_bounds(value)
        }
    }

    /// Whether a node without this label satisfies the requirement.
    pub fn allows_absent(&self) -> bool {
        !self.must_exist
            && self.gt.is_none()
            && self.lt.is_none()
            && matches!(self.operator(), Operator::DoesNotExist | Operator::NotIn)
    }

    /// The values both requirements allow.
    pub fn intersection(&self, other: &Requirement) -> Requirement {
        let gt = max_opt(self.gt, other.gt);
        let lt = min_opt(self.lt, other.lt);
        let min_values = max_opt(self.min_values, other.min_values);
        let (complement, values) = match (self.complement, other.complement) {
            (true, true) => (true, self.values.union(&other.values).cloned().collect()),
            (true, false) => (
                false,
                other
                    .values
                    .iter()
                    .filter(|v| self.has(v))
                    .cloned()
                    .collect(),
            ),
            (false, true) => (
                false,
                self.values
                    .iter()
                    .filter(|v| other.has(v))
                    .cloned()
                    .collect(),
            ),
            (false, false) => (
                false,
                self.values.intersection(&other.values).cloned().collect(),
            ),
        };
        let mut out = Requirement {
            key: self.key.clone(),
            complement,
            values,
            gt,
            lt,
            min_values,
            must_exist: false,
        };
        if !out.complement && (out.gt.is_some() || out.lt.is_some()) {
            let bounded = out.clone();
            out.values.retain(|v| bounded.within_bounds(v));
        }
        // "No label" survives only if both sides allow it; say so where the
        // shape alone would read as allowing it.
        let absent = self.allows_absent() && other.allows_absent();
        out.must_exist = !absent && out.allows_absent();
        out
    }

    /// Whether some value satisfies both, without building the intersection
    /// (this is the scheduler's hottest check).
    pub fn overlaps(&self, other: &Requirement) -> bool {
        let gt = max_opt(self.gt, other.gt);
        let lt = min_opt(self.lt, other.lt);
        let bounded = |v: &str| {
            if gt.is_none() && lt.is_none() {
                return true;
            }
            let Ok(n) = v.parse::<i64>() else {
                return false;
            };
            gt.is_none_or(|g| n > g) && lt.is_none_or(|l| n < l)
        };
        match (self.complement, other.complement) {
            (true, true) => !matches!((gt, lt), (Some(g), Some(l)) if l <= g.saturating_add(1)),
            (true, false) => other
                .values
                .iter()
                .any(|v| !self.values.contains(v) && bounded(v)),
            (false, true) => self
                .values
                .iter()
                .any(|v| !other.values.contains(v) && bounded(v)),
            (false, false) => {
                let (small, large) = if self.values.len() <= other.values.len() {
                    (self, other)
                } else {
                    (other, self)
                };
                small
                    .values
                    .iter()
                    .any(|v| large.values.contains(v) && bounded(v))
            }
        }
    }

    /// How many values are allowed; `usize::MAX` stands for "unbounded".
    pub fn len(&self) -> usize {
        if self.complement {
            if self.bounds_empty() {
                0
            } else {
                usize::MAX - self.values.len()
            }
        } else {
            self.values.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        match self.operator() {
            Operator::In => write!(f, "{} In [{}]", self.key, values.join(", "))?,
            Operator::NotIn if self.must_exist => {
                write!(f, "{} Exists, NotIn [{}]", self.key, values.join(", "))?
            }
            Operator::NotIn => write!(f, "{} NotIn [{}]", self.key, values.join(", "))?,
            Operator::DoesNotExist if self.must_exist => write!(f, "{} In []", self.key)?,
            Operator::Exists if self.gt.is_none() && self.lt.is_none() => {
                write!(f, "{} Exists", self.key)?
            }
            Operator::Exists => write!(f, "{}", self.key)?,
            Operator::DoesNotExist => write!(f, "{} DoesNotExist", self.key)?,
        }
        if let Some(gt) = self.gt {
            write!(f, " Gt {gt}")?;
        }
        if let Some(lt) = self.lt {
            write!(f, " Lt {lt}")?;
        }
        Ok(())
    }
}

/// Requirements on many label keys; a node must satisfy all of them.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requirements {
    by_key: BTreeMap<String, Requirement>,
}

/// Why two sets of requirements cannot hold at once, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatible {
    pub key: String,
    pub existing: Option<Requirement>,
    pub incoming: Requirement,
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.existing {
            Some(existing) => write!(f, "{} conflicts with {}", self.incoming, existing),
            None => write!(f, "label {:?} does not have known values", self.key),
        }
    }
}

impl Requirements {
    pub fn new() -> Self {
        Requirements::default()
    }

    /// One `In [value]` requirement per label, as a node's labels read.
    pub fn from_labels<'a, I>(labels: I) -> Self
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let mut out = Requirements::new();
        for (k, v) in labels {
            out.add(Requirement::in_values(
                kerf_api::labels::normalize_label_key(k),
                [v.clone()],
            ));
        }
        out
    }

    /// Adds a requirement, intersecting with any already on the same key.
    pub fn add(&mut self, r: Requirement) {
        match self.by_key.get_mut(&r.key) {
            Some(existing) => *existing = existing.intersection(&r),
            None => {
                self.by_key.insert(r.key.clone(), r);
            }
        }
    }

    pub fn add_all(&mut self, other: &Requirements) {
        for r in other.by_key.values() {
            self.add(r.clone());
        }
    }

    pub fn get(&self, key: &str) -> Option<&Requirement> {
        self.by_key.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn remove(&mut self, key: &str) -> Option<Requirement> {
        self.by_key.remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Requirement> {
        self.by_key.values()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.by_key.keys()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// For keys both sides name, some value must satisfy both — except that two
    /// requirements that both allow the label's absence never conflict, since a
    /// node can lack the label.
    // `Incompatible` carries both requirements for the message; it is part of
    // the public API and built only on the (cold) failure path.
    #[allow(clippy::result_large_err)]
    pub fn intersects(&self, incoming: &Requirements) -> Result<(), Incompatible> {
        let (small, large, swapped) = if self.by_key.len() <= incoming.by_key.len() {
            (self, incoming, false)
        } else {
            (incoming, self, true)
        };
        for (key, a) in &small.by_key {
            let Some(b) = large.by_key.get(key) else {
                continue;
            };
            let (existing, incoming) = if swapped { (b, a) } else { (a, b) };
            if !existing.overlaps(incoming) {
                if existing.allows_absent() && incoming.allows_absent() {
                    continue;
                }
                return Err(Incompatible {
                    key: key.clone(),
                    existing: Some(existing.clone()),
                    incoming: incoming.clone(),
                });
            }
        }
        Ok(())
    }

    /// Karpenter's compatibility: like `intersects`, and a key the incoming side
    /// requires to exist (In/Exists) must be defined here unless it is a
    /// well-known label that instance types and offerings supply.
    // `Incompatible` carries both requirements for the message; it is part of
    // the public API and built only on the (cold) failure path.
    #[allow(clippy::result_large_err)]
    pub fn compatible(
        &self,
        incoming: &Requirements,
        allow_undefined_well_known: bool,
    ) -> Result<(), Incompatible> {
        for (key, r) in &incoming.by_key {
            if self.by_key.contains_key(key) || r.allows_absent() {
                continue;
            }
            if allow_undefined_well_known && kerf_api::labels::is_well_known_label(key) {
                continue;
            }
            return Err(Incompatible {
                key: key.clone(),
                existing: None,
                incoming: r.clone(),
            });
        }
        self.intersects(incoming)
    }

    /// Whether a node with exactly these labels satisfies every requirement.
    // `Incompatible` carries both requirements for the message; it is part of
    // the public API and built only on the (cold) failure path.
    #[allow(clippy::result_large_err)]
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> Result<(), Incompatible> {
        for (key, r) in &self.by_key {
            let ok = match labels.get(key) {
                Some(v) => r.has(v),
                None => r.allows_absent(),
            };
            if !ok {
                let existing = labels
                    .get(key)
                    .map(|v| Requirement::in_values(key, [v.clone()]));
                return Err(Incompatible {
                    key: key.clone(),
                    existing: existing.or_else(|| Some(Requirement::does_not_exist(key))),
                    incoming: r.clone(),
                });
            }
        }
        Ok(())
    }

    /// The intersection of both sets.
    pub fn intersection(&self, other: &Requirements) -> Requirements {
        let mut out = self.clone();
        out.add_all(other);
        out
    }

    /// Labels a node launched under these requirements will certainly carry:
    /// every key with exactly one allowed value.
    pub fn single_valued_labels(&self) -> BTreeMap<String, String> {
        self.by_key
            .iter()
            .filter(|(_, r)| !r.complement && r.values.len() == 1)
            .filter_map(|(k, r)| r.values.iter().next().map(|v| (k.clone(), v.clone())))
            .collect()
    }
}

impl fmt::Debug for Requirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Requirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.by_key.values().map(|r| r.to_string()).collect();
        write!(f, "{}", parts.join(", "))
    }
}

impl FromIterator<Requirement> for Requirements {
    fn from_iter<T: IntoIterator<Item = Requirement>>(iter: T) -> Self {
        let mut out = Requirements::new();
        for r in iter {
            out.add(r);
        }
        out
    }
}
