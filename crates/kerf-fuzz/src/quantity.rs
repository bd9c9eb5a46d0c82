//! Quantities: `parse_quantity`, `parse_milli` and `is_negative` agree with one
//! another, a sign flips the value, and a parsed value written back — as
//! `<v>m`, by the NodeClaim status writer, and by the human formatter — reads
//! back as the same value (the formatter's to within its one decimal).

use kerf_api::quantity::{is_negative, parse_milli, parse_quantity};
use kerf_cloud::provider::quantity::quantity;
use kerf_core::resources::format_amount;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_quantity(text) {
        Err(e) => {
            assert_eq!(parse_milli(text), Err(e), "parse_milli({text:?})");
            assert!(is_negative(text).is_err(), "is_negative({text:?})");
        }
        Ok(value) => check_value(text, value),
    }
}

fn check_value(text: &str, value: i128) {
    let milli = value.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
    assert_eq!(parse_milli(text), Ok(milli), "parse_milli({text:?})");
    assert_eq!(
        is_negative(text),
        Ok(value < 0),
        "is_negative({text:?}) = {value}"
    );
    if value != i128::MAX && value != i128::MIN {
        let written = format!("{value}m");
        assert_eq!(
            parse_quantity(&written),
            Ok(value),
            "{text:?} written {written:?}"
        );
    }
    if !text.starts_with(['+', '-']) {
        let negated = parse_quantity(&format!("-{text}"));
        // A magnitude saturated at i128::MAX may read as MIN negated.
        let want = if value == i128::MAX {
            [Ok(i128::MIN + 1), Ok(i128::MIN)]
        } else {
            [Ok(-value), Ok(-value)]
        };
        assert!(
            want.contains(&negated),
            "-{text:?} = {negated:?}, {text:?} = {value}"
        );
    }
    for resource in ["cpu", "memory", "nvidia.com/gpu"] {
        let status = quantity(resource, milli);
        assert_eq!(
            parse_milli(&status.0),
            Ok(milli),
            "{resource} {milli}m written {status:?}"
        );
        let shown = format_amount(resource, milli);
        let back = parse_milli(&shown).unwrap_or_else(|e| {
            panic!("format_amount({resource}, {milli}) = {shown:?} does not parse: {e}")
        });
        if resource == "memory" {
            // Whole bytes, then one (truncated) decimal of the binary unit:
            // off by less than a tenth of the value plus a byte, never in sign.
            let error = (i128::from(milli) - i128::from(back)).abs();
            let bound = i128::from(milli).abs() / 10 + 1000;
            assert!(
                error <= bound && (back == 0 || (back < 0) == (milli < 0)),
                "format_amount(memory, {milli}) = {shown:?} reads {back}"
            );
        } else {
            assert_eq!(
                back, milli,
                "format_amount({resource}, {milli}) = {shown:?}"
            );
        }
    }
}
