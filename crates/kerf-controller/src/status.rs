//! Small helpers for writing status conditions and finalizers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions::{Condition, STATUS_TRUE};

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// Sets the condition to True with `reason`; the transition time only moves
/// when the status changes.
pub fn set_condition(conds: &mut Vec<Condition>, type_: &str, reason: &str, at: Timestamp) {
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        if c.status != STATUS_TRUE {
            c.status = STATUS_TRUE.to_string();
            c.last_transition_time = Some(Time(at));
        }
        c.reason = Some(reason.to_string());
        return;
    }
    conds.push(Condition {
        reason: Some(reason.to_string()),
        last_transition_time: Some(Time(at)),
        ..Condition::new(type_, STATUS_TRUE)
    });
}

/// The finalizers without `finalizer`, or `None` if it was not there.
pub fn without_finalizer(finalizers: Option<&Vec<String>>, finalizer: &str) -> Option<Vec<String>> {
    let list = finalizers?;
    list.iter()
        .any(|f| f == finalizer)
        .then(|| list.iter().filter(|f| *f != finalizer).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_transition_time_moves_only_on_change() {
        let t1 = Timestamp::from_second(1_000).unwrap();
        let t2 = Timestamp::from_second(2_000).unwrap();
        let mut conds = Vec::new();
        set_condition(&mut conds, "Launched", "Launched", t1);
        set_condition(&mut conds, "Launched", "Launched", t2);
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].last_transition_time, Some(Time(t1)));
        let f = vec!["a".to_string(), "karpenter.sh/termination".to_string()];
        assert_eq!(
            without_finalizer(Some(&f), "karpenter.sh/termination"),
            Some(vec!["a".to_string()])
        );
        assert_eq!(without_finalizer(Some(&f), "b"), None);
    }
}
