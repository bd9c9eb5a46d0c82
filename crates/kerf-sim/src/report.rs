//! The simulation report: a serde struct with stable field names (what `-o
//! json` / `-o yaml` print) and the human table. One row per node to launch
//! with the offering the cloud actually chose, the pods placed on existing
//! nodes, the total $/h, and every pod that cannot be placed with its reason.
//! [`html`] renders the same report as a page (`--report FILE.html`).

mod chart;
pub mod html;
pub use html::html;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::resources::{CPU, MEMORY, Resources, format_amount};
use kerf_core::template::PoolKind;
use kerf_state::ProvisionOutcome;

use crate::disruption::DisruptionOutcome;
use serde::{Deserialize, Serialize};

/// Requested versus allocatable for one resource on one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Pods' plus daemonsets' requests, as a quantity (`7`, `1500m`, `3Gi`).
    pub requested: String,
    pub allocatable: String,
    /// `requested / allocatable × 100`, one decimal.
    pub percent: f64,
}

impl Usage {
    fn of(resource: &str, requested: i64, allocatable: i64) -> Usage {
        let percent = if allocatable > 0 {
            (requested as f64 / allocatable as f64 * 1000.0).round() / 10.0
        } else {
            0.0
        };
        Usage {
            requested: format_amount(resource, requested),
            allocatable: format_amount(resource, allocatable),
            percent,
        }
    }
}

/// A node kerf would launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    /// The NodeClaim's name.
    pub name: String,
    /// `Provisioner` or `NodePool`.
    pub pool_kind: String,
    pub pool: String,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
    pub price_per_hour: f64,
    pub provider_id: String,
    pub pods: Vec<String>,
    pub cpu: Usage,
    pub memory: Usage,
    /// Every instance type the claim allowed, cheapest first.
    pub instance_type_options: Vec<String>,
}

/// Pods placed on a node that already exists (or is already being launched).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingRow {
    pub node: String,
    pub pods: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnschedulableRow {
    pub pod: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCounts {
    pub pending: usize,
    pub on_new_nodes: usize,
    pub on_existing_nodes: usize,
    pub unschedulable: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub nodes: Vec<NodeRow>,
    pub total_price_per_hour: f64,
    pub existing: Vec<ExistingRow>,
    pub unschedulable: Vec<UnschedulableRow>,
    pub pods: PodCounts,
    /// Conversion warnings and anything the plan validator found.
    pub warnings: Vec<String>,
    /// With `--disruption`: every command of the disruption loop, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruptions: Option<Vec<DisruptionRow>>,
    /// With `--disruption`: each managed node left, and why it stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<KeptRow>>,
}

/// One disruption command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionRow {
    /// `emptiness`, `multi-node consolidation`, ... (the method's own words).
    pub method: String,
    /// Karpenter's disruption reason: `Empty`, `Underutilized`, `Drifted`.
    pub reason: String,
    /// Nodes removed.
    pub candidates: Vec<String>,
    /// Nodes launched first, in their place.
    pub replacements: Vec<ReplacementRow>,
    /// $/h of the candidates.
    pub price_per_hour_before: f64,
    /// $/h of the replacements.
    pub price_per_hour_after: f64,
    pub savings_per_hour: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplacementRow {
    /// The Node the simulation launched (the names `kept` uses).
    pub node: String,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
    pub price_per_hour: f64,
}

/// A managed node no command removes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptRow {
    pub node: String,
    pub reason: String,
}

/// A price as the table prints it, 4 decimals: rounded first, so that a sum
/// that is zero up to float noise (-0.0, -0.00001) prints "0.0000", not "-0.0000".
fn money(v: f64) -> String {
    let rounded = (v * 1e4).round() / 1e4 + 0.0;
    format!("{rounded:.4}")
}

fn dollars(v: f64) -> f64 {
    // +0.0 for an empty sum or a zero saving, never -0.0.
    (v * 1e6).round() / 1e6 + 0.0
}

/// Adds the disruption loop's commands and kept nodes to the report.
pub fn add_disruption(report: &mut Report, outcome: &DisruptionOutcome) {
    let rows = outcome
        .commands
        .iter()
        .zip(&outcome.launched)
        .map(|(c, launched)| DisruptionRow {
            method: c.method.to_string(),
            reason: c.reason.to_string(),
            candidates: c.candidates.clone(),
            replacements: c
                .replacements
                .iter()
                .zip(launched)
                .map(|(r, node)| ReplacementRow {
                    node: node.clone(),
                    instance_type: r.node.chosen.instance_type.clone(),
                    zone: r.node.chosen.zone.clone(),
                    capacity_type: r.node.chosen.capacity_type.clone(),
                    price_per_hour: dollars(r.node.chosen.price),
                })
                .collect(),
            price_per_hour_before: dollars(c.price_before),
            price_per_hour_after: dollars(c.price_after),
            savings_per_hour: dollars(c.savings_per_hour()),
        })
        .collect();
    report.disruptions = Some(rows);
    report.kept = Some(
        outcome
            .kept
            .iter()
            .map(|k| KeptRow {
                node: k.node.clone(),
                reason: k.reason.to_string(),
            })
            .collect(),
    );
    if outcome.limit_reached {
        report.warnings.push(format!(
            "disruption: stopped after {} rounds with commands still coming; the kept nodes are those of the last round",
            outcome.rounds
        ));
    }
    if outcome.unbound_pods > 0 {
        report.warnings.push(format!(
            "disruption: {} unbound pod(s) are planned above but not part of the disruption loop, which sees only the Nodes and their bound pods",
            outcome.unbound_pods
        ));
    }
}

impl Report {
    /// 0 when every pod is placed (or `allow_unschedulable`), 1 otherwise.
    pub fn exit_code(&self, allow_unschedulable: bool) -> i32 {
        if self.unschedulable.is_empty() || allow_unschedulable {
            0
        } else {
            1
        }
    }
}

fn label<'a>(claim: &'a NodeClaim, key: &str) -> &'a str {
    claim
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map_or("", String::as_str)
}

/// Builds the report from a provisioning outcome and the claims as launched
/// (in the order of `outcome.claims`).
pub fn build(outcome: &ProvisionOutcome, launched: &[NodeClaim], warnings: Vec<String>) -> Report {
    let planned: BTreeMap<&str, &kerf_core::plan::PlannedNode> = outcome
        .plan
        .new_nodes
        .iter()
        .map(|n| (n.name.as_str(), n))
        .collect();
    let mut nodes = Vec::new();
    for (pc, claim) in outcome.claims.iter().zip(launched) {
        let instance_type = label(claim, labels::INSTANCE_TYPE).to_string();
        let zone = label(claim, labels::ZONE).to_string();
        let capacity_type = label(claim, labels::CAPACITY_TYPE).to_string();
        let price = outcome
            .instance_types
            .get(&pc.pool)
            .and_then(|ts| ts.iter().find(|t| t.name == instance_type))
            .and_then(|t| {
                t.offerings
                    .iter()
                    .find(|o| o.zone == zone && o.capacity_type == capacity_type)
            })
            .map_or(0.0, |o| o.price);
        let status = claim.status.as_ref();
        let allocatable = status
            .and_then(|s| Resources::from_quantities(&s.allocatable).ok())
            .unwrap_or_default();
        let requested = planned
            .get(pc.planned_node.as_str())
            .map(|n| n.pod_requests.plus(&n.daemon_requests))
            .unwrap_or_default();
        let options = planned
            .get(pc.planned_node.as_str())
            .map(|n| n.options.iter().map(|o| o.instance_type.clone()).collect())
            .unwrap_or_default();
        nodes.push(NodeRow {
            name: claim.metadata.name.clone().unwrap_or_default(),
            pool_kind: match pc.pool.kind {
                PoolKind::Provisioner => "Provisioner".to_string(),
                PoolKind::NodePool => "NodePool".to_string(),
            },
            pool: pc.pool.name.clone(),
            instance_type,
            zone,
            capacity_type,
            price_per_hour: price,
            provider_id: status
                .and_then(|s| s.provider_id.clone())
                .unwrap_or_default(),
            pods: pc.pods.iter().map(ToString::to_string).collect(),
            cpu: Usage::of(CPU, requested.cpu, allocatable.cpu),
            memory: Usage::of(MEMORY, requested.memory, allocatable.memory),
            instance_type_options: options,
        });
    }
    // A fold from +0.0: an empty f64 sum is -0.0, which printed as "$-0.0000/hour".
    let total = nodes.iter().fold(0.0, |total, n| total + n.price_per_hour);
    let existing: Vec<ExistingRow> = outcome
        .plan
        .existing
        .iter()
        .map(|e| ExistingRow {
            node: e.node.clone(),
            pods: e.pods.iter().map(ToString::to_string).collect(),
        })
        .collect();
    let unschedulable: Vec<UnschedulableRow> = outcome
        .unschedulable
        .iter()
        .map(|u| UnschedulableRow {
            pod: u.pod.to_string(),
            reason: u.reason.clone(),
        })
        .collect();
    Report {
        pods: PodCounts {
            pending: outcome.snapshot.pending.len(),
            on_new_nodes: nodes.iter().map(|n| n.pods.len()).sum(),
            on_existing_nodes: existing.iter().map(|e| e.pods.len()).sum(),
            unschedulable: unschedulable.len(),
        },
        nodes,
        total_price_per_hour: dollars(total),
        existing,
        unschedulable,
        warnings,
        disruptions: None,
        kept: None,
    }
}

/// The human table.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let header = [
        "NODE",
        "POOL",
        "INSTANCE TYPE",
        "ZONE",
        "CAPACITY",
        "$/HOUR",
        "PODS",
        "CPU",
        "MEMORY",
    ];
    let rows: Vec<[String; 9]> = r
        .nodes
        .iter()
        .map(|n| {
            [
                n.name.clone(),
                format!("{} {}", n.pool_kind.to_lowercase(), n.pool),
                n.instance_type.clone(),
                n.zone.clone(),
                n.capacity_type.clone(),
                money(n.price_per_hour),
                n.pods.len().to_string(),
                format!(
                    "{}/{} ({:.1}%)",
                    n.cpu.requested, n.cpu.allocatable, n.cpu.percent
                ),
                format!(
                    "{}/{} ({:.1}%)",
                    n.memory.requested, n.memory.allocatable, n.memory.percent
                ),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No new nodes needed.\n");
    } else {
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", parts.join("  ").trim_end())
        };
        out.push_str(&line(header.to_vec()));
        for row in &rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
    }
    let _ = writeln!(
        out,
        "\nTotal: {} new node(s), ${}/hour; {} pending pod(s): {} on new nodes, {} on existing nodes, {} unschedulable.",
        r.nodes.len(),
        money(r.total_price_per_hour),
        r.pods.pending,
        r.pods.on_new_nodes,
        r.pods.on_existing_nodes,
        r.pods.unschedulable
    );
    if !r.existing.is_empty() {
        out.push_str("\nPods placed on existing nodes:\n");
        for e in &r.existing {
            let _ = writeln!(out, "  {}: {}", e.node, e.pods.join(", "));
        }
    }
    if !r.unschedulable.is_empty() {
        let _ = writeln!(out, "\nUnschedulable pods ({}):", r.unschedulable.len());
        for u in &r.unschedulable {
            let _ = writeln!(out, "  {}: {}", u.pod, u.reason);
        }
    }
    if let Some(rows) = &r.disruptions {
        render_disruptions(&mut out, rows, r.kept.as_deref().unwrap_or_default());
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &r.warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

fn render_disruptions(out: &mut String, rows: &[DisruptionRow], kept: &[KeptRow]) {
    if rows.is_empty() {
        out.push_str("\nDisruption: no command.\n");
    } else {
        let _ = writeln!(out, "\nDisruption: {} command(s), in order:", rows.len());
    }
    for (i, d) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {} ({}): remove {}",
            i + 1,
            d.method,
            d.reason,
            d.candidates.join(", ")
        );
        for r in &d.replacements {
            let _ = writeln!(
                out,
                "     launch {}: {} {} {} ${}/h",
                r.node,
                r.instance_type,
                r.zone,
                r.capacity_type,
                money(r.price_per_hour)
            );
        }
        let _ = writeln!(
            out,
            "     ${}/h -> ${}/h, saving ${}/h",
            money(d.price_per_hour_before),
            money(d.price_per_hour_after),
            money(d.savings_per_hour)
        );
    }
    let total = rows.iter().fold(0.0, |t, d| t + d.savings_per_hour);
    if !rows.is_empty() {
        let _ = writeln!(out, "  Total saving: ${}/h", money(total));
    }
    if !kept.is_empty() {
        let _ = writeln!(out, "\nKept ({}):", kept.len());
        for k in kept {
            let _ = writeln!(out, "  {}: {}", k.node, k.reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero up to float noise, either sign, prints as zero.
    #[test]
    fn a_zero_total_never_prints_negative() {
        for total in [-0.0, 0.0, -0.00001, -0.000049] {
            let report = Report {
                total_price_per_hour: total,
                ..Report::default()
            };
            let table = render_table(&report);
            assert!(table.contains("$0.0000/hour"), "{total}: {table}");
            assert!(!table.contains("-0.0000"), "{total}: {table}");
        }
        assert_eq!(money(0.14706), "0.1471");
        assert_eq!(money(-0.5), "-0.5000");
    }
}
