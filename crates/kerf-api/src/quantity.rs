//! Kubernetes resource quantities (`"100m"`, `"1.5Gi"`, `"2e3"`): a parser that
//! follows `k8s.io/apimachinery/pkg/api/resource.ParseQuantity`'s grammar and
//! returns the value in milli-units, rounded away from zero like Kubernetes'
//! `MilliValue()`. Exact for any value that fits; larger magnitudes saturate.
//!
//! ```
//! use kerf_api::quantity::{parse_milli, parse_quantity};
//! assert_eq!(parse_milli("100m"), Ok(100));
//! assert_eq!(parse_milli("1.5"), Ok(1500));
//! assert_eq!(parse_quantity("1Ki"), Ok(1_024_000));
//! assert_eq!(parse_milli("0.1m"), Ok(1)); // rounded up
//! assert!(parse_quantity("1.5.5").is_err());
//! ```

/// Why a string is not a Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantity is empty")]
    Empty,
    #[error("quantity must start with a number")]
    NoDigits,
    #[error("unknown suffix {0:?}")]
    Suffix(String),
    #[error("exponent is not a 32-bit integer")]
    Exponent,
}

/// A quantity split into its parts: `sign · digits · 10^exp10 · 2^exp2`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    /// Significant decimal digits, without leading zeros (empty means zero).
    digits: Vec<u8>,
    exp10: i64,
    exp2: u32,
}

/// Parses a quantity and returns its value in milli-units (`"1"` → 1000),
/// rounded away from zero, saturating at `i128::MIN`/`i128::MAX`.
pub fn parse_quantity(s: &str) -> Result<i128, QuantityError> {
    let parsed = parse_parts(s)?;
    Ok(to_milli(&parsed))
}

/// Like [`parse_quantity`], saturating at the `i64` range (what Kubernetes
/// itself caps quantities to). The scheduling core keeps resources as `i64`.
pub fn parse_milli(s: &str) -> Result<i64, QuantityError> {
    let v = parse_quantity(s)?;
    Ok(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Whether `s` is a quantity below zero (`"-0"` is not).
pub fn is_negative(s: &str) -> Result<bool, QuantityError> {
    let p = parse_parts(s)?;
    Ok(p.negative && !p.digits.is_empty())
}

fn parse_parts(s: &str) -> Result<Parsed, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if b[0] == b'+' || b[0] == b'-' {
        negative = b[0] == b'-';
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &b[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(QuantityError::NoDigits);
    }
    let (exp10_suffix, exp2) = parse_suffix(&s[i..])?;

    let mut digits: Vec<u8> = int_digits
        .iter()
        .chain(frac_digits)
        .map(|d| d - b'0')
        .collect();
    let leading = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..leading);
    // Trailing zeros only shift the exponent; dropping them keeps the vector short.
    let mut exp10 = exp10_suffix - frac_digits.len() as i64;
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    Ok(Parsed {
        negative,
        digits,
        exp10,
        exp2,
    })
}

fn parse_suffix(suffix: &str) -> Result<(i64, u32), QuantityError> {
    let r = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let rest = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Suffix(suffix.chars().take(16).collect()))?;
            let valid = {
                let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
            };
            if !valid {
                return Err(QuantityError::Suffix(suffix.chars().take(16).collect()));
            }
            let e: i32 = rest.parse().map_err(|_| QuantityError::Exponent)?;
            (i64::from(e), 0)
        }
    };
    Ok(r)
}

/// Most decimal digits an `i128` magnitude can have.
const MAX_DIGITS: usize = 39;

fn to_milli(p: &Parsed) -> i128 {
    if p.digits.is_empty() {
        return 0;
    }
    let saturated = if p.negative { i128::MIN } else { i128::MAX };
    // value = digits · 10^(exp10 + 3) · 2^exp2
    let exp10 = p.exp10 + 3;
    let int_len = p.digits.len() as i64 + exp10; // digits before the decimal point
    if int_len > MAX_DIGITS as i64 {
        return saturated;
    }
    // Multiply by 2^exp2 exactly in decimal (at most 60 doublings).
    let mut digits = p.digits.clone();
    for _ in 0..p.exp2 {
        double(&mut digits);
    }
    let int_len = digits.len() as i64 + exp10;
    if int_len > MAX_DIGITS as i64 {
        return saturated;
    }
    let (int_part, has_fraction): (&[u8], bool) = if exp10 >= 0 {
        (&digits, false)
    } else if int_len <= 0 {
        (&[], true)
    } else {
        let split = int_len as usize;
        (&digits[..split], digits[split..].iter().any(|d| *d != 0))
    };
    let zeros = if exp10 > 0 { exp10 as usize } else { 0 };
    let mut magnitude: u128 = 0;
    for d in int_part
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0, zeros))
    {
        match magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(d)))
        {
            Some(m) => magnitude = m,
            None => return saturated,
        }
    }
    if has_fraction {
        magnitude = magnitude.saturating_add(1);
    }
    let max = if p.negative {
        i128::MAX as u128 + 1
    } else {
        i128::MAX as u128
    };
    if magnitude > max {
        return saturated;
    }
    if p.negative {
        (magnitude as i128).wrapping_neg()
    } else {
        magnitude as i128
    }
}

/// Doubles a big-endian decimal digit vector in place.
fn double(digits: &mut Vec<u8>) {
    let mut carry = 0u8;
    for d in digits.iter_mut().rev() {
        let v = *d * 2 + carry;
        *d = v % 10;
        carry = v / 10;
    }
    if carry > 0 {
        digits.insert(0, carry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<i128, ()>)] = &[
            ("0", Ok(0)),
            ("1", Ok(1000)),
            ("100m", Ok(100)),
            ("1.5", Ok(1500)),
            ("+2", Ok(2000)),
            ("-2", Ok(-2000)),
            (".5", Ok(500)),
            ("5.", Ok(5000)),
            ("1k", Ok(1_000_000)),
            ("1Ki", Ok(1_024_000)),
            ("1.5Gi", Ok(1_610_612_736_000)),
            ("1Ei", Ok(1_152_921_504_606_846_976_000)),
            ("1e3", Ok(1_000_000)),
            ("1E-3", Ok(1)),
            ("0.1m", Ok(1)),
            ("-0.1m", Ok(-1)),
            ("1n", Ok(1)),
            ("1u", Ok(1)),
            ("1000n", Ok(1)),
            ("1000000n", Ok(1)),
            ("1000001n", Ok(2)),
            ("0.000", Ok(0)),
            ("1e1000", Ok(i128::MAX)),
            ("-1e1000", Ok(i128::MIN)),
            ("1e-1000", Ok(1)),
            ("", Err(())),
            (".", Err(())),
            ("-", Err(())),
            ("1.5.5", Err(())),
            ("1x", Err(())),
            ("1KI", Err(())),
            ("1e", Err(())),
            ("1e1.5", Err(())),
            ("1e99999999999", Err(())),
            (" 1", Err(())),
            ("1 ", Err(())),
            ("1Mi ", Err(())),
        ];
        for (s, want) in cases {
            let got = parse_quantity(s).map_err(|_| ());
            assert_eq!(&got, want, "{s:?}");
        }
    }

    #[test]
    fn i64_saturates() {
        assert_eq!(parse_milli("1e30"), Ok(i64::MAX));
        assert_eq!(parse_milli("-1e30"), Ok(i64::MIN));
        assert_eq!(parse_milli("8Ei"), Ok(i64::MAX));
    }

    #[test]
    fn negative() {
        assert_eq!(is_negative("-1"), Ok(true));
        assert_eq!(is_negative("-0"), Ok(false));
        assert_eq!(is_negative("1"), Ok(false));
    }
}
