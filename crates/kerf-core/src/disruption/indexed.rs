//! The disruption input with its nodes found by name in constant time.
//! `decide` looks a node up once per candidate in several places, and with
//! linear finds the decision over 4,000 nodes spent most of its time
//! comparing node names.

use std::ops::Deref;

use rustc_hash::FxHashMap;

use super::{DisruptionInput, NodeFacts};
use crate::snapshot::ExistingNode;

/// Derefs to the input; [`Indexed::facts`] and [`Indexed::node`] find what
/// a linear search over `input.nodes` and `input.cluster.nodes` would find
/// (the first of a name).
pub(super) struct Indexed<'a> {
    input: &'a DisruptionInput,
    facts: FxHashMap<&'a str, &'a NodeFacts>,
    nodes: FxHashMap<&'a str, &'a ExistingNode>,
}

impl<'a> Indexed<'a> {
    pub(super) fn new(input: &'a DisruptionInput) -> Self {
        let mut facts = FxHashMap::default();
        for f in &input.nodes {
            facts.entry(f.name.as_str()).or_insert(f);
        }
        let mut nodes = FxHashMap::default();
        for n in &input.cluster.nodes {
            nodes.entry(n.name.as_str()).or_insert(n);
        }
        Indexed {
            input,
            facts,
            nodes,
        }
    }

    /// The disruption facts about the node named `name`.
    pub(super) fn facts(&self, name: &str) -> Option<&'a NodeFacts> {
        self.facts.get(name).copied()
    }

    /// The node named `name` as the scheduler sees it, with its pods.
    pub(super) fn node(&self, name: &str) -> Option<&'a ExistingNode> {
        self.nodes.get(name).copied()
    }
}

impl Deref for Indexed<'_> {
    type Target = DisruptionInput;

    fn deref(&self) -> &DisruptionInput {
        self.input
    }
}
