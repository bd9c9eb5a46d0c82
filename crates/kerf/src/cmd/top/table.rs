//! `kerf top --once`: the [`FleetView`] as plain text for scripts, one
//! whitespace-separated row per node ("-" for an unknown field) and the
//! totals after it; no escape codes.

use std::fmt::Write as _;

use super::view::{FleetView, NodeRow, Usage, format_age};

const HEADER: [&str; 10] = [
    "NODE", "POOL", "TYPE", "ZONE", "CAPACITY", "$/H", "AGE", "PODS", "CPU", "MEMORY",
];

/// The view as text.
pub fn render(view: &FleetView) -> String {
    let rows: Vec<[String; 10]> = view.rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out.push('\n');
    out.push_str(&totals(view));
    for problem in &view.problems {
        let _ = writeln!(out, "unreadable: {problem}");
    }
    out
}

/// The totals lines (shared with the TUI's header).
pub fn totals(view: &FleetView) -> String {
    let t = &view.totals;
    let unpriced = match t.unpriced {
        0 => String::new(),
        1 => " (1 node unpriced, not counted)".to_string(),
        n => format!(" ({n} nodes unpriced, not counted)"),
    };
    format!(
        "nodes: {}\ncost: ${:.4}/h, ${:.2}/month{unpriced}\ncpu: {} requested\nmemory: {} requested\npending pods: {}\nin-flight NodeClaims: {}\n",
        t.nodes,
        t.per_hour,
        t.per_month,
        percent(&t.cpu),
        percent(&t.memory),
        t.pending_pods,
        t.in_flight_claims,
    )
}

fn cells(row: &NodeRow) -> [String; 10] {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    [
        row.name.clone(),
        or_dash(&row.pool),
        or_dash(&row.instance_type),
        or_dash(&row.zone),
        or_dash(&row.capacity_type),
        row.price
            .map_or_else(|| "-".to_string(), |p| format!("{p:.4}")),
        format_age(row.age_seconds),
        row.pods.to_string(),
        percent(&row.cpu),
        percent(&row.memory),
    ]
}

/// `52%`, or `-` when nothing is allocatable.
pub fn percent(usage: &Usage) -> String {
    usage
        .percent()
        .map_or_else(|| "-".to_string(), |p| format!("{p:.0}%"))
}
