//! Go-style durations as Karpenter writes them: [`GoDuration`] parses
//! `time.ParseDuration` strings (`"720h"`, `"30s"`, `"1h30m"`, `"1.5s"`,
//! `"300ms"`) and prints Go's canonical `Duration.String()` form
//! (`"720h0m0s"`); [`NillableDuration`] adds Karpenter's `"Never"`.
//!
//! ```
//! use kerf_api::duration::{GoDuration, NillableDuration};
//! let d: GoDuration = "1h30m".parse().unwrap();
//! assert_eq!(d.as_secs(), 5400);
//! assert_eq!(d.to_string(), "1h30m0s");
//! let never: NillableDuration = "Never".parse().unwrap();
//! assert!(never.is_never());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

/// A signed duration with nanosecond precision, like Go's `time.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration {
    nanos: i64,
}

impl GoDuration {
    pub const ZERO: GoDuration = GoDuration { nanos: 0 };

    pub const fn from_nanos(nanos: i64) -> Self {
        GoDuration { nanos }
    }

    /// Saturates at the `i64` nanosecond range (about 292 years).
    pub const fn from_secs(secs: i64) -> Self {
        GoDuration {
            nanos: secs.saturating_mul(NANOS_PER_SEC),
        }
    }

    pub const fn as_nanos(&self) -> i64 {
        self.nanos
    }

    /// Whole seconds, truncated toward zero.
    pub const fn as_secs(&self) -> i64 {
        self.nanos / NANOS_PER_SEC
    }

    pub const fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Whether the duration is a whole, non-negative number of seconds: what
    /// Karpenter's CRD patterns (`^([0-9]+(s|m|h))+$`) can express.
    pub const fn is_whole_seconds(&self) -> bool {
        self.nanos >= 0 && self.nanos % NANOS_PER_SEC == 0
    }

    /// A non-negative duration as `std::time::Duration`.
    pub fn to_std(&self) -> Option<std::time::Duration> {
        u64::try_from(self.nanos)
            .ok()
            .map(std::time::Duration::from_nanos)
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
            .map(GoDuration::from_nanos)
            .map_err(|reason| DurationError {
                input: s.to_string(),
                reason,
            })
    }
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `"0"`.
fn parse(s: &str) -> Result<i64, &'static str> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration");
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_str, after) = rest.split_at(int_len);
        let (frac_str, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_str.is_empty() && frac_str.is_empty() {
            return Err("expected a number");
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err("missing unit");
        }
        let scale = unit_nanos(unit).ok_or("unknown unit")?;
        let mut whole: u64 = 0;
        for d in int_str.bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(d - b'0')))
                .ok_or("overflow")?;
        }
        let mut v = whole.checked_mul(scale).ok_or("overflow")?;
        // Fractional part: scale · 0.frac, truncated like Go.
        let mut frac_scale = scale as f64;
        let mut frac: f64 = 0.0;
        for d in frac_str.bytes() {
            frac_scale /= 10.0;
            frac += f64::from(d - b'0') * frac_scale;
        }
        v = v.checked_add(frac as u64).ok_or("overflow")?;
        total = total.checked_add(v).ok_or("overflow")?;
        rest = after;
    }
    if negative {
        if total > i64::MAX as u64 + 1 {
            return Err("overflow");
        }
        Ok((total as i64).wrapping_neg())
    } else {
        i64::try_from(total).map_err(|_| "overflow")
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.nanos < 0;
        let u = self.nanos.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < NANOS_PER_SEC as u64 {
            let (unit, scale) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("\u{b5}s", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            return write!(f, "{sign}{}{unit}", frac_str(u, scale));
        }
        let secs_total = u / NANOS_PER_SEC as u64;
        let nanos = u % NANOS_PER_SEC as u64;
        let h = secs_total / 3600;
        let m = (secs_total % 3600) / 60;
        let s = secs_total % 60;
        let secs = frac_str(s * NANOS_PER_SEC as u64 + nanos, NANOS_PER_SEC as u64);
        if h > 0 {
            write!(f, "{sign}{h}h{m}m{secs}s")
        } else if m > 0 {
            write!(f, "{sign}{m}m{secs}s")
        } else {
            write!(f, "{sign}{secs}s")
        }
    }
}

/// `v / scale` with the fraction's trailing zeros trimmed (`1500, 1000` → `"1.5"`).
fn frac_str(v: u64, scale: u64) -> String {
    let whole = v / scale;
    let rem = v % scale;
    if rem == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

/// The string that disables a [`NillableDuration`].
pub const NEVER: &str = "Never";

/// A duration that may be `"Never"` (stored as `None`), like Karpenter's
/// `NillableDuration` for `expireAfter` and `consolidateAfter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NillableDuration(pub Option<GoDuration>);

impl NillableDuration {
    pub const NEVER: NillableDuration = NillableDuration(None);

    pub const fn is_never(&self) -> bool {
        self.0.is_none()
    }

    pub const fn from_secs(secs: i64) -> Self {
        NillableDuration(Some(GoDuration::from_secs(secs)))
    }
}

impl From<GoDuration> for NillableDuration {
    fn from(d: GoDuration) -> Self {
        NillableDuration(Some(d))
    }
}

impl FromStr for NillableDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == NEVER {
            Ok(NillableDuration(None))
        } else {
            s.parse().map(|d| NillableDuration(Some(d)))
        }
    }
}

impl fmt::Display for NillableDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(d) => d.fmt(f),
            None => f.write_str(NEVER),
        }
    }
}

impl Serialize for NillableDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NillableDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for NillableDuration {
    fn schema_name() -> Cow<'static, str> {
        "NillableDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^(([0-9]+(s|m|h))+|Never)$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let s = NANOS_PER_SEC;
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("0s", Some(0)),
            ("30s", Some(30 * s)),
            ("720h", Some(720 * 3600 * s)),
            ("1h30m", Some(5400 * s)),
            ("1.5s", Some(1500 * s / 1000)),
            ("300ms", Some(300_000_000)),
            ("1us", Some(1000)),
            ("1\u{b5}s", Some(1000)),
            ("-5s", Some(-5 * s)),
            ("+5s", Some(5 * s)),
            (".5m", Some(30 * s)),
            ("2h45m10s", Some((2 * 3600 + 45 * 60 + 10) * s)),
            ("", None),
            ("5", None),
            ("s", None),
            ("5x", None),
            ("Never", None),
            ("1h 30m", None),
            ("9999999999h", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<GoDuration>().ok().map(|d| d.as_nanos());
            assert_eq!(&got, want, "{input:?}");
        }
    }

    #[test]
    fn display_matches_go() {
        let cases: &[(&str, &str)] = &[
            ("720h", "720h0m0s"),
            ("30s", "30s"),
            ("90s", "1m30s"),
            ("1h", "1h0m0s"),
            ("0s", "0s"),
            ("1.5s", "1.5s"),
            ("300ms", "300ms"),
            ("1500us", "1.5ms"),
            ("12ns", "12ns"),
            ("-90s", "-1m30s"),
        ];
        for (input, want) in cases {
            let d: GoDuration = input.parse().expect(input);
            assert_eq!(d.to_string(), *want, "{input:?}");
            assert_eq!(d.to_string().parse::<GoDuration>().expect(want), d);
        }
    }

    #[test]
    fn nillable() {
        assert_eq!(
            "Never".parse::<NillableDuration>(),
            Ok(NillableDuration::NEVER)
        );
        assert_eq!(NillableDuration::NEVER.to_string(), "Never");
        assert_eq!(
            "30s".parse::<NillableDuration>(),
            Ok(NillableDuration::from_secs(30))
        );
        assert!("never".parse::<NillableDuration>().is_err());
        let json = serde_json::to_string(&NillableDuration::from_secs(3600)).expect("serialize");
        assert_eq!(json, "\"1h0m0s\"");
    }
}
