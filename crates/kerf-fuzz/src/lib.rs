//! The properties kerf's fuzz targets check: one module per target, each a
//! plain `check(&[u8])` that panics when a property fails. The cargo-fuzz
//! targets in `fuzz/` run them under libFuzzer (`scripts/fuzz.sh`); `tests/corpus.rs`
//! replays every seed in `fuzz/corpus/<target>/` through them on stable, so
//! the ordinary test run keeps them passing and keeps every crash fixed.

pub mod admission;
pub mod duration;
pub mod interruption;
pub mod quantity;
pub mod requirements;
pub mod simulate_load;

/// A fuzz target: its name (the `fuzz/` binary and its corpus directory) and
/// the property it checks on one input.
pub struct Target {
    pub name: &'static str,
    pub check: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "quantity",
        check: quantity::check,
    },
    Target {
        name: "duration",
        check: duration::check,
    },
    Target {
        name: "requirements",
        check: requirements::check,
    },
    Target {
        name: "interruption",
        check: interruption::check,
    },
    Target {
        name: "admission",
        check: admission::check,
    },
    Target {
        name: "simulate_load",
        check: simulate_load::check,
    },
];
