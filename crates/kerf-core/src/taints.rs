//! Taints and tolerations with kube-scheduler's matching rules.

use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Whether one toleration tolerates one taint (core/v1 `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect_ok = match toleration.effect.as_deref() {
        None | Some("") => true,
        Some(e) => e == taint.effect,
    };
    if !effect_ok {
        return false;
    }
    let key_ok = match toleration.key.as_deref() {
        None | Some("") => true,
        Some(k) => k == taint.key,
    };
    if !key_ok {
        return false;
    }
    match toleration.operator.as_deref() {
        Some("Exists") => true,
        // Equal is the default operator.
        None | Some("") | Some("Equal") => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        Some(_) => false,
    }
}

/// The first taint that the tolerations do not tolerate. PreferNoSchedule
/// taints count only when `strict` (kerf treats them as hard until relaxed).
pub fn first_untolerated<'a>(
    tolerations: &[Toleration],
    taints: &'a [Taint],
    strict: bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| strict || t.effect != PREFER_NO_SCHEDULE)
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// `key=value:Effect`, as kubectl prints taints.
pub fn describe(taint: &Taint) -> String {
    match taint.value.as_deref() {
        Some(v) if !v.is_empty() => format!("{}={}:{}", taint.key, v, taint.effect),
        _ => format!("{}:{}", taint.key, taint.effect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(
        key: Option<&str>,
        op: Option<&str>,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: None,
        }
    }

    #[test]
    fn toleration_table() {
        let t = taint("gpu", Some("true"), NO_SCHEDULE);
        let cases = [
            (
                tol(Some("gpu"), Some("Equal"), Some("true"), Some(NO_SCHEDULE)),
                true,
            ),
            (tol(Some("gpu"), None, Some("true"), None), true),
            (tol(Some("gpu"), Some("Equal"), Some("false"), None), false),
            (tol(Some("gpu"), Some("Exists"), None, None), true),
            (tol(None, Some("Exists"), None, None), true),
            (
                tol(Some("gpu"), Some("Exists"), None, Some(NO_EXECUTE)),
                false,
            ),
            (tol(Some("other"), Some("Exists"), None, None), false),
        ];
        for (toleration, want) in cases {
            assert_eq!(tolerates(&toleration, &t), want, "{toleration:?}");
        }
    }

    #[test]
    fn prefer_no_schedule_only_when_strict() {
        let taints = [taint("soft", None, PREFER_NO_SCHEDULE)];
        assert!(first_untolerated(&[], &taints, true).is_some());
        assert!(first_untolerated(&[], &taints, false).is_none());
        assert_eq!(describe(&taints[0]), "soft:PreferNoSchedule");
    }
}
