//! Kubernetes name rules (`k8s.io/apimachinery/pkg/util/validation`):
//! qualified names (label and taint keys), label values and DNS-1123
//! subdomains. Each function returns the reasons a string is invalid; an empty
//! list means valid.

const NAME_CHARS_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, non-empty.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
        _ => false,
    }
}

/// Reasons `s` is not a DNS-1123 subdomain (at most 253 characters).
pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(is_dns1123_label) {
        errs.push(DNS1123_MSG.to_string());
    }
    errs
}

/// Reasons `s` is not a DNS-1123 label (at most 63 characters): what a
/// namespace name must be.
pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(s) {
        errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".to_string());
    }
    errs
}

/// Reasons `s` is not a qualified name: an optional DNS subdomain prefix and
/// `/`, then a name of at most 63 characters (`example.com/my-key`).
pub fn qualified_name_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {NAME_CHARS_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_name_part(name) {
        errs.push(format!("name part {NAME_CHARS_MSG}"));
    }
    errs
}

/// Reasons `s` is not a label value (empty, or at most 63 name characters).
pub fn label_value_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !is_name_part(s) {
        errs.push(format!(
            "a valid label must be an empty string or {NAME_CHARS_MSG}"
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for (s, ok) in [
            ("kube-system", true),
            ("a", true),
            ("Bad_NS", false),
            ("a.b", false),
            ("-a", false),
            ("", false),
            (&*"a".repeat(64), false),
        ] {
            assert_eq!(dns1123_label_errors(s).is_empty(), ok, "{s:?}");
        }
    }

    #[test]
    fn qualified_names() {
        let cases: &[(&str, bool)] = &[
            ("foo", true),
            ("Foo.bar_baz-1", true),
            ("example.com/foo", true),
            ("a.b.c/x", true),
            ("", false),
            ("/foo", false),
            ("example.com/", false),
            ("Example.com/foo", false),
            ("a/b/c", false),
            ("-foo", false),
            ("foo-", false),
            ("foo bar", false),
            (&"x".repeat(64), false),
        ];
        for (s, ok) in cases {
            assert_eq!(qualified_name_errors(s).is_empty(), *ok, "{s:?}");
        }
    }

    #[test]
    fn label_values() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("us-east-1a", true),
            ("m5.2xlarge", true),
            ("a_b", true),
            ("-a", false),
            ("a/b", false),
            ("a b", false),
            (&"x".repeat(64), false),
        ];
        for (s, ok) in cases {
            assert_eq!(label_value_errors(s).is_empty(), *ok, "{s:?}");
        }
    }
}
