//! `kerf simulate`'s manifest loader on arbitrary file contents: it never
//! panics, an error names the file it came from, and loading is
//! deterministic (the same text gives the same outcome twice).

use std::path::Path;

use kerf_sim::load::{Loaded, load_text};

const FILE: &str = "fuzz-input.yaml";

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let load = || {
        let mut loaded = Loaded::default();
        load_text(&mut loaded, Path::new(FILE), text).map(|()| loaded.documents)
    };
    let first = load();
    if let Err(e) = &first {
        let message = e.to_string();
        assert!(
            message.contains(FILE),
            "the error does not name the file: {message}"
        );
    }
    let second = load();
    assert_eq!(
        first.as_ref().map_err(ToString::to_string),
        second.as_ref().map_err(ToString::to_string),
        "{text:?} loads differently twice"
    );
}
