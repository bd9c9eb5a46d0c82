//! Go durations (`consolidateAfter`, `expireAfter`, `ttlSecondsAfterEmpty`'s
//! successors): whatever `GoDuration`/`NillableDuration` parse prints in Go's
//! canonical form and reads back as the same duration, through JSON too; any
//! nanosecond count does the same; and every string Karpenter's CRD pattern
//! `^([0-9]+(s|m|h))+$` admits parses to whole seconds unless it overflows.

use arbitrary::Unstructured;
use kerf_api::duration::{GoDuration, NillableDuration};

pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    // The same bytes as a nanosecond count: covers the printer's whole range.
    if let Ok(nanos) = Unstructured::new(data).arbitrary::<i64>() {
        round_trip(GoDuration::from_nanos(nanos));
    }
}

fn check_text(text: &str) {
    let parsed = text.parse::<GoDuration>();
    if let Ok(d) = parsed {
        round_trip(d);
    }
    if crd_pattern(text) {
        match &parsed {
            Ok(d) => assert!(d.is_whole_seconds(), "{text:?} = {d} is not whole seconds"),
            Err(e) => assert_eq!(e.reason, "overflow", "{text:?} fits the CRD pattern: {e}"),
        }
    }
    match text.parse::<NillableDuration>() {
        Ok(n) => {
            let shown = n.to_string();
            assert_eq!(
                shown.parse::<NillableDuration>(),
                Ok(n),
                "{text:?} shown {shown:?}"
            );
            let json = serde_json::to_string(&n).expect("a duration serializes");
            let back: NillableDuration = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{text:?} as JSON {json} does not read back: {e}"));
            assert_eq!(back, n, "{text:?} through JSON {json}");
        }
        Err(_) => assert!(parsed.is_err() && text != "Never", "{text:?}"),
    }
}

fn round_trip(d: GoDuration) {
    let shown = d.to_string();
    assert_eq!(
        shown.parse::<GoDuration>(),
        Ok(d),
        "{} ns shown as {shown:?}",
        d.as_nanos()
    );
    assert_eq!(d.to_std().is_some(), !d.is_negative(), "{shown}");
}

/// `^([0-9]+(s|m|h))+$`
fn crd_pattern(text: &str) -> bool {
    let mut rest = text.as_bytes();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || !matches!(rest.get(digits), Some(b's' | b'm' | b'h')) {
            return false;
        }
        rest = &rest[digits + 1..];
    }
    true
}
