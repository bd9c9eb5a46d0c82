//! The scale-down phase of a head-to-head run (`--scale-down-to N`): once
//! every pod of the scale-up runs, the NodePool's `consolidateAfter` goes
//! from `Never` to `1h` for [`SETTLE`] (consolidation on, as in a cluster
//! between its peak and the scale-down, but no node quiet long enough for
//! either controller to act), then to the phase's setting (Karpenter v1's default, `0s`; the
//! NodePool hash covers only the template, so neither controller sees drift),
//! the Deployment is scaled down to N, and the run waits until the fleet
//! stops changing: every remaining pod Running and no Node added or removed
//! for the quiet window. It reports the time from the scale-down to the last
//! fleet change, the fleet then (nodes, $/h), the evictions (pods the
//! ReplicaSet had to recreate, so pods first seen after the scale-down) and
//! the controller's CPU over the phase.

use std::time::{Duration, Instant};

use kerf_cloud::Catalog;
use kerf_testenv::ControlPlane;

use super::proc_stats::Sampler;
use super::shared::kubectl;
use super::watch::Watches;

/// Between the scale-up and the scale-down, with consolidation on.
pub const SETTLE: Duration = Duration::from_secs(60);

/// The phase's settings.
#[derive(Clone, Debug)]
pub struct ScaleDown {
    pub to: usize,
    /// No Node added or removed for this long ends the phase.
    pub quiet: Duration,
    pub consolidate_after: String,
}

/// Runs the phase; `timeout` bounds it from the scale-down on.
pub async fn measure(
    plane: &ControlPlane,
    controller: &str,
    down: &ScaleDown,
    watches: &Watches,
    (sampler, pid): (&Sampler, u32),
    catalog: &Catalog,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let consolidate_after = |after: &str| {
        let patch = serde_json::json!({"spec": {"disruption": {"consolidateAfter": after}}});
        kubectl(
            plane,
            &[
                "patch",
                "nodepool",
                "default",
                "--type=merge",
                "-p",
                &patch.to_string(),
            ],
        )
    };
    consolidate_after("1h")?;
    tokio::time::sleep(SETTLE).await;
    consolidate_after(&down.consolidate_after)?;
    let cpu_before = sampler.last(pid).cpu_seconds;
    let start = Instant::now();
    let to = down.to.to_string();
    kubectl(plane, &["scale", "deployment", "scale", "--replicas", &to])?;
    eprintln!("{controller}: scaled down to {to} pods");
    let mut last_report = Instant::now();
    loop {
        let (running, changes) = {
            let seen = watches.observed();
            (seen.running.len(), seen.fleet_changes_since(start))
        };
        let quiet_since = changes.last.unwrap_or(start);
        if running == down.to && quiet_since.elapsed() >= down.quiet {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            eprintln!(
                "{controller}: {:>6.1?} after the scale-down: {running} pods Running, {} nodes added, {} removed",
                start.elapsed(),
                changes.added,
                changes.removed
            );
            last_report = Instant::now();
        }
        if start.elapsed() > timeout {
            return Err(anyhow::anyhow!(
                "the fleet was still changing {timeout:?} after the scale-down ({running}/{to} pods Running)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = sampler.last(pid);
    let seen = watches.observed();
    let changes = seen.fleet_changes_since(start);
    let (shapes, dollars) = seen.fleet(catalog)?;
    Ok(serde_json::json!({
        "pods": down.to,
        "consolidate_after": down.consolidate_after,
        "quiet_seconds": down.quiet.as_secs_f64(),
        "settle_seconds": SETTLE.as_secs_f64(),
        "seconds_to_fleet_stable": changes
            .last
            .map_or(0.0, |t| t.saturating_duration_since(start).as_secs_f64()),
        "nodes_added": changes.added,
        "nodes_removed": changes.removed,
        "nodes_at_end": shapes.values().sum::<usize>(),
        "dollars_per_hour": dollars,
        "shapes": shapes,
        "evictions": seen.pods_created_since(start),
        "peak_rss_mib": stats.peak_rss_kib as f64 / 1024.0,
        "cpu_seconds_scale_down": stats.cpu_seconds - cpu_before,
    }))
}
