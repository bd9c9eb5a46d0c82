//! Disruption budgets: how many of a pool's nodes may be disrupted at once,
//! for one reason, at one moment. Karpenter's rules: `nodes` is a count or a
//! percentage of the pool's nodes (rounded up); a budget with a `schedule` is
//! active for `duration` after each time the schedule fires (UTC); the most
//! restrictive active budget that applies to the reason wins; nodes already
//! being deleted or NotReady use up the allowance; a schedule that cannot be
//! evaluated allows nothing (fails closed).

use std::time::Duration;

use croner::Cron;
use croner::parser::CronParser;
use k8s_openapi::jiff::{Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};

use super::Reason;

/// How many nodes a budget lets go at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BudgetNodes {
    Count(u32),
    /// Percent of the pool's nodes, rounded up.
    Percent(u32),
}

/// One entry of a pool's `disruption.budgets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRule {
    pub nodes: BudgetNodes,
    /// The reasons it limits; `None` limits every reason.
    pub reasons: Option<Vec<Reason>>,
    /// A standard 5-field cron expression (or `@daily` and the like), in UTC.
    pub schedule: Option<String>,
    /// How long the budget is active after each time `schedule` fires.
    pub duration: Option<Duration>,
}

impl BudgetRule {
    /// Karpenter's default budget: 10% of the pool's nodes, for every reason, always.
    pub fn default_rule() -> Self {
        BudgetRule {
            nodes: BudgetNodes::Percent(10),
            reasons: None,
            schedule: None,
            duration: None,
        }
    }

    fn applies_to(&self, reason: Reason) -> bool {
        self.reasons.as_ref().is_none_or(|r| r.contains(&reason))
    }

    /// Whether the budget is in force at `now`; `Err` when its schedule cannot be read.
    pub fn active(&self, now: Timestamp) -> Result<bool, BudgetError> {
        let Some(schedule) = &self.schedule else {
            return Ok(true);
        };
        let cron = parse_schedule(schedule)?;
        let window = self.duration.unwrap_or_default();
        // Active when the schedule fired within (now - duration, now], as
        // Karpenter asks for the first firing after now - duration.
        let window = k8s_openapi::jiff::SignedDuration::try_from(window)
            .map_err(|_| BudgetError::Duration(window))?;
        let from = now
            .checked_sub(window)
            .map_err(|_| BudgetError::Duration(self.duration.unwrap_or_default()))?
            .to_zoned(TimeZone::UTC);
        let next = cron
            .find_next_occurrence(&from, false)
            .map_err(|e| BudgetError::Schedule(schedule.clone(), e.to_string()))?;
        Ok(next.timestamp() <= now)
    }

    /// Nodes this budget allows out of `total`.
    fn allows(&self, total: usize) -> usize {
        match self.nodes {
            BudgetNodes::Count(n) => n as usize,
            BudgetNodes::Percent(p) => (total * p as usize).div_ceil(100),
        }
    }
}

/// A budget kerf cannot evaluate; it then allows no disruption.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("schedule {0:?}: {1}")]
    Schedule(String, String),
    #[error("duration {0:?} is out of range")]
    Duration(Duration),
}

fn parse_schedule(schedule: &str) -> Result<Cron, BudgetError> {
    // robfig/cron (Karpenter's parser) knows @midnight; croner calls it @daily.
    let pattern = if schedule.trim().eq_ignore_ascii_case("@midnight") {
        "@daily"
    } else {
        schedule
    };
    CronParser::new()
        .parse(pattern)
        .map_err(|e| BudgetError::Schedule(schedule.to_string(), e.to_string()))
}

/// How many more of a pool's nodes may be disrupted for `reason` at `now`:
/// the least any applicable active budget allows out of `total` nodes, less
/// the `disrupting` ones (deleting or NotReady). Budgets that cannot be
/// evaluated allow none.
pub fn allowed(
    rules: &[BudgetRule],
    reason: Reason,
    total: usize,
    disrupting: usize,
    now: Timestamp,
) -> usize {
    let mut limit = usize::MAX;
    for rule in rules.iter().filter(|r| r.applies_to(reason)) {
        match rule.active(now) {
            Ok(true) => limit = limit.min(rule.allows(total)),
            Ok(false) => {}
            Err(_) => return 0,
        }
    }
    limit.min(total).saturating_sub(disrupting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rule(nodes: BudgetNodes) -> BudgetRule {
        BudgetRule {
            nodes,
            reasons: None,
            schedule: None,
            duration: None,
        }
    }

    const NOON: &str = "2026-12-05T12:00:00Z";

    // Upstream: nodepool_budgets_test.go "should return the default when no budgets are active"
    // and "should round up percentages".
    #[test]
    fn percentages_round_up_and_the_default_is_ten_percent() {
        let now = at(NOON);
        let default = [BudgetRule::default_rule()];
        assert_eq!(allowed(&default, Reason::Underutilized, 5, 0, now), 1);
        assert_eq!(allowed(&default, Reason::Underutilized, 10, 0, now), 1);
        assert_eq!(allowed(&default, Reason::Underutilized, 11, 0, now), 2);
        assert_eq!(allowed(&default, Reason::Underutilized, 0, 0, now), 0);
        let all = [rule(BudgetNodes::Percent(100))];
        assert_eq!(allowed(&all, Reason::Empty, 7, 0, now), 7);
    }

    // Upstream: "should return the most restrictive budget" and "should only consider
    // budgets for the reason".
    #[test]
    fn the_most_restrictive_applicable_budget_wins() {
        let now = at(NOON);
        let mut drift_only = rule(BudgetNodes::Count(0));
        drift_only.reasons = Some(vec![Reason::Drifted]);
        let rules = [
            rule(BudgetNodes::Count(5)),
            rule(BudgetNodes::Percent(50)),
            drift_only,
        ];
        assert_eq!(allowed(&rules, Reason::Empty, 4, 0, now), 2);
        assert_eq!(allowed(&rules, Reason::Drifted, 4, 0, now), 0);
        assert_eq!(allowed(&rules, Reason::Underutilized, 40, 0, now), 5);
    }

    // Upstream disruption suite: "should consider not ready nodes to the disruption count"
    // and deleting nodes counting against the budget.
    #[test]
    fn nodes_already_disrupting_use_up_the_allowance() {
        let now = at(NOON);
        let rules = [rule(BudgetNodes::Count(3))];
        assert_eq!(allowed(&rules, Reason::Empty, 10, 2, now), 1);
        assert_eq!(allowed(&rules, Reason::Empty, 10, 5, now), 0);
    }

    // Upstream: "should return true when the schedule is active" / "false when inactive".
    #[test]
    fn a_scheduled_budget_is_active_for_its_duration_after_each_firing() {
        let mut window = rule(BudgetNodes::Count(0));
        window.schedule = Some("0 9 * * *".into());
        window.duration = Some(Duration::from_secs(8 * 3600));
        let rules = [window, rule(BudgetNodes::Count(4))];
        // 09:00-17:00 UTC: nothing may go; outside it, four.
        assert_eq!(allowed(&rules, Reason::Empty, 10, 0, at(NOON)), 0);
        assert_eq!(
            allowed(&rules, Reason::Empty, 10, 0, at("2026-12-05T09:00:00Z")),
            0
        );
        assert_eq!(
            allowed(&rules, Reason::Empty, 10, 0, at("2026-12-05T17:00:00Z")),
            4
        );
        assert_eq!(
            allowed(&rules, Reason::Empty, 10, 0, at("2026-12-05T08:59:00Z")),
            4
        );
    }

    #[test]
    fn macros_and_day_names_are_read_as_karpenter_reads_them() {
        let mut nightly = rule(BudgetNodes::Count(0));
        nightly.schedule = Some("@midnight".into());
        nightly.duration = Some(Duration::from_secs(3600));
        assert!(nightly.active(at("2026-12-05T00:30:00Z")).unwrap());
        assert!(!nightly.active(at("2026-12-05T01:30:00Z")).unwrap());
        let mut weekdays = rule(BudgetNodes::Count(0));
        weekdays.schedule = Some("0 0 * * MON-FRI".into());
        weekdays.duration = Some(Duration::from_secs(24 * 3600));
        // 2026-12-05 is a Saturday.
        assert!(!weekdays.active(at(NOON)).unwrap());
        assert!(weekdays.active(at("2026-12-04T12:00:00Z")).unwrap());
    }

    // Upstream: "should fail closed on an invalid schedule".
    #[test]
    fn a_schedule_that_cannot_be_read_allows_nothing() {
        let mut bad = rule(BudgetNodes::Count(10));
        bad.schedule = Some("every day at nine".into());
        assert!(bad.active(at(NOON)).is_err());
        assert_eq!(allowed(&[bad], Reason::Empty, 10, 0, at(NOON)), 0);
    }
}
