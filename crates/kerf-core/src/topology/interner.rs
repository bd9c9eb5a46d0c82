//! Domain values interned to small integers, so counts are keyed by `u32`.

use rustc_hash::FxHashMap;

pub type DomainId = u32;

/// Strings (domain values) to small integers.
#[derive(Default, Debug)]
pub struct Interner {
    ids: FxHashMap<String, DomainId>,
    names: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> DomainId {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as DomainId;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    pub fn get(&self, s: &str) -> Option<DomainId> {
        self.ids.get(s).copied()
    }

    pub fn name(&self, id: DomainId) -> &str {
        &self.names[id as usize]
    }
}
