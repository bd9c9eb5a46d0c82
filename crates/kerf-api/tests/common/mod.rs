//! Helpers for the table-driven validation tests.

#![allow(dead_code)]

use kerf_api::ValidationError;

/// What a case expects: valid, or an error at `path` whose message contains `msg`.
#[derive(Clone, Copy, Debug)]
pub enum Want {
    Ok,
    Err(&'static str, &'static str),
}

pub use Want::{Err as Fails, Ok as Passes};

/// Checks one case's result, with the case name in every failure message.
pub fn check(case: &str, got: Result<(), ValidationError>, want: Want) {
    match (want, got) {
        (Want::Ok, Ok(())) => {}
        (Want::Ok, Err(e)) => panic!("{case}: expected valid, got:\n{e}"),
        (Want::Err(path, msg), Ok(())) => {
            panic!("{case}: expected error at {path} ({msg}), got valid")
        }
        (Want::Err(path, msg), Err(e)) => {
            let hit = e
                .errors
                .iter()
                .any(|fe| fe.path == path && fe.message.contains(msg));
            assert!(
                hit,
                "{case}: expected error at {path} containing {msg:?}, got:\n{e}"
            );
            // The Display form carries the same error on its own line.
            let line = e
                .to_string()
                .lines()
                .any(|l| l.starts_with(&format!("{} {:?}: {path}: ", e.kind, e.name)));
            assert!(line, "{case}: Display lacks {path}:\n{e}");
        }
    }
}

/// One row of a validation table: a name, a mutation of the base object, the expected outcome.
pub type Case<'a, T> = (&'a str, fn(&mut T), Want);

/// Runs a table of `(name, mutation, want)` against a fresh copy of `base`.
pub fn run<T: Clone>(
    base: &T,
    cases: &[Case<'_, T>],
    validate: fn(&T) -> Result<(), ValidationError>,
) {
    validate(base).unwrap_or_else(|e| panic!("base object is invalid:\n{e}"));
    for (name, mutate, want) in cases {
        let mut obj = base.clone();
        mutate(&mut obj);
        check(name, validate(&obj), *want);
    }
}

pub fn s(v: &str) -> String {
    v.to_string()
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
