//! `kerf simulate --report FILE.html`: the [`Report`] as one self-contained
//! HTML page. Inline CSS and SVG only, and a Content-Security-Policy that
//! forbids scripts and every fetch, so it renders the same with the network
//! off. Every piece of text is escaped here: pod names, reasons and labels
//! come from the user's manifests.

use std::fmt::Write as _;

use super::chart::{self, Bar};
use super::{DisruptionRow, KeptRow, Report, money};

/// What the report counts as a month, as `kerf top` does.
pub const HOURS_PER_MONTH: f64 = 730.0;

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:24px;color:#1d2433;background:#fff}\
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}\
.totals{display:flex;flex-wrap:wrap;gap:10px;margin:0}\
.totals div{border:1px solid #d5dae3;border-radius:6px;padding:8px 14px;min-width:120px}\
.totals dt{font-size:12px;color:#5b6577}.totals dd{margin:2px 0 0;font-size:20px;font-weight:600}\
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e3e7ee;padding:4px 10px;text-align:left;vertical-align:top}\
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.chart text{font-size:13px;fill:#1d2433}.chart rect{fill:#3b6fd8}\
.meter .track{fill:#e3e7ee}.meter .fill{fill:#2f9e6a}.percent{font-variant-numeric:tabular-nums}\
small{color:#5b6577}.warn{color:#9a5b00}";

/// Escapes the five characters HTML gives meaning to, for text and
/// attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `$x` a month for `$/h`, 2 decimals, never `-0.00`.
fn per_month(price_per_hour: f64) -> String {
    let v = (price_per_hour * HOURS_PER_MONTH * 100.0).round() / 100.0 + 0.0;
    format!("{v:.2}")
}

/// A node pool as the table and the charts name it: `nodepool default`.
fn pool_label(pool_kind: &str, pool: &str) -> String {
    format!("{} {pool}", pool_kind.to_lowercase())
}

/// The whole page.
pub fn html(r: &Report) -> String {
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    page.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        page,
        "<title>kerf simulate: {} new node(s), ${}/h</title>\n<style>{STYLE}</style></head><body>",
        r.nodes.len(),
        money(r.total_price_per_hour)
    );
    page.push_str("<h1>kerf simulate: the plan</h1>\n");
    totals(&mut page, r);
    charts(&mut page, r);
    nodes(&mut page, r);
    existing(&mut page, r);
    unschedulable(&mut page, r);
    if let Some(commands) = &r.disruptions {
        disruptions(&mut page, commands, r.kept.as_deref().unwrap_or_default());
    }
    if !r.warnings.is_empty() {
        page.push_str("<section id=\"warnings\"><h2>Warnings</h2><ul>\n");
        for w in &r.warnings {
            let _ = writeln!(page, "<li class=\"warn\">{}</li>", escape(w));
        }
        page.push_str("</ul></section>\n");
    }
    page.push_str("</body></html>\n");
    page
}

fn totals(page: &mut String, r: &Report) {
    let items = [
        ("total-nodes", "New nodes", r.nodes.len().to_string()),
        (
            "total-hourly",
            "$/hour",
            format!("${}", money(r.total_price_per_hour)),
        ),
        (
            "total-monthly",
            "$/month (730 h)",
            format!("${}", per_month(r.total_price_per_hour)),
        ),
        ("pods-pending", "Pending pods", r.pods.pending.to_string()),
        ("pods-new", "On new nodes", r.pods.on_new_nodes.to_string()),
        (
            "pods-existing",
            "On existing nodes",
            r.pods.on_existing_nodes.to_string(),
        ),
        (
            "pods-unschedulable",
            "Unschedulable",
            r.pods.unschedulable.to_string(),
        ),
    ];
    page.push_str("<dl class=\"totals\">\n");
    for (id, name, value) in items {
        let _ = writeln!(
            page,
            "<div><dt>{name}</dt><dd id=\"{id}\">{value}</dd></div>"
        );
    }
    page.push_str("</dl>\n");
}

fn charts(page: &mut String, r: &Report) {
    if r.nodes.is_empty() {
        page.push_str("<h2>Cost</h2><p id=\"no-nodes\">No new nodes needed.</p>\n");
        return;
    }
    let by_pool: Vec<Bar> = chart::group(
        r.nodes
            .iter()
            .map(|n| (pool_label(&n.pool_kind, &n.pool), n.price_per_hour)),
    );
    let by_type: Vec<Bar> = chart::group(
        r.nodes
            .iter()
            .map(|n| (n.instance_type.clone(), n.price_per_hour)),
    );
    page.push_str("<h2>Cost by pool</h2>\n");
    page.push_str(&chart::bar_chart(
        "cost-by-pool",
        "cost by pool in $/h",
        &by_pool,
    ));
    page.push_str("<h2>Cost by instance type</h2>\n");
    page.push_str(&chart::bar_chart(
        "cost-by-type",
        "cost by instance type in $/h",
        &by_type,
    ));
}

fn nodes(page: &mut String, r: &Report) {
    if r.nodes.is_empty() {
        return;
    }
    let _ = writeln!(page, "<h2>New nodes ({})</h2>", r.nodes.len());
    page.push_str("<table id=\"nodes\"><thead><tr><th>Node</th><th>Pool</th><th>Instance type</th><th>Zone</th><th>Capacity</th><th>$/h</th><th>Pods</th><th>CPU</th><th>Memory</th></tr></thead><tbody>\n");
    for n in &r.nodes {
        let _ = writeln!(
            page,
            "<tr class=\"node\" data-node=\"{name}\"><td>{name}</td><td>{pool}</td><td>{itype}</td><td>{zone}</td><td>{capacity}</td><td class=\"num\">{price}</td><td class=\"num\">{pods}</td><td>{cpu} <small>{cpu_req}/{cpu_alloc}</small></td><td>{mem} <small>{mem_req}/{mem_alloc}</small></td></tr>",
            name = escape(&n.name),
            pool = escape(&pool_label(&n.pool_kind, &n.pool)),
            itype = escape(&n.instance_type),
            zone = escape(&n.zone),
            capacity = escape(&n.capacity_type),
            price = money(n.price_per_hour),
            pods = n.pods.len(),
            cpu = chart::meter(n.cpu.percent),
            cpu_req = escape(&n.cpu.requested),
            cpu_alloc = escape(&n.cpu.allocatable),
            mem = chart::meter(n.memory.percent),
            mem_req = escape(&n.memory.requested),
            mem_alloc = escape(&n.memory.allocatable),
        );
    }
    page.push_str("</tbody></table>\n");
}

fn existing(page: &mut String, r: &Report) {
    if r.existing.is_empty() {
        return;
    }
    page.push_str("<h2>Pods placed on existing nodes</h2>\n<table id=\"existing\"><thead><tr><th>Node</th><th>Pods</th></tr></thead><tbody>\n");
    for e in &r.existing {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&e.node),
            escape(&e.pods.join(", "))
        );
    }
    page.push_str("</tbody></table>\n");
}

/// Pods grouped by their reason text: most pods first, then the order the
/// report lists them in.
fn unschedulable(page: &mut String, r: &Report) {
    if r.unschedulable.is_empty() {
        return;
    }
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for u in &r.unschedulable {
        match groups.iter_mut().find(|(reason, _)| *reason == u.reason) {
            Some((_, pods)) => pods.push(&u.pod),
            None => groups.push((&u.reason, vec![&u.pod])),
        }
    }
    groups.sort_by_key(|(_, pods)| std::cmp::Reverse(pods.len()));
    let _ = writeln!(
        page,
        "<h2>Unschedulable pods ({})</h2>\n<table id=\"unschedulable\"><thead><tr><th>Reason</th><th>Pods</th><th>Names</th></tr></thead><tbody>",
        r.unschedulable.len()
    );
    for (reason, pods) in groups {
        let _ = writeln!(
            page,
            "<tr class=\"reason-group\"><td class=\"reason\">{}</td><td class=\"num count\">{}</td><td class=\"pods\">{}</td></tr>",
            escape(reason),
            pods.len(),
            escape(&pods.join(", "))
        );
    }
    page.push_str("</tbody></table>\n");
}

fn disruptions(page: &mut String, commands: &[DisruptionRow], kept: &[KeptRow]) {
    let total = commands.iter().fold(0.0, |t, d| t + d.savings_per_hour);
    let _ = writeln!(
        page,
        "<h2>Disruption: {} command(s), in order</h2>\n<p>Total saving: <strong id=\"total-saving\">${}/h</strong> (${}/month)</p>",
        commands.len(),
        money(total),
        per_month(total)
    );
    if !commands.is_empty() {
        page.push_str("<table id=\"disruptions\"><thead><tr><th>#</th><th>Method</th><th>Reason</th><th>Remove</th><th>Launch</th><th>$/h before</th><th>$/h after</th><th>Saving $/h</th></tr></thead><tbody>\n");
    }
    for (i, d) in commands.iter().enumerate() {
        let launch: Vec<String> = d
            .replacements
            .iter()
            .map(|r| {
                format!(
                    "{}: {} {} {} ${}/h",
                    r.node,
                    r.instance_type,
                    r.zone,
                    r.capacity_type,
                    money(r.price_per_hour)
                )
            })
            .collect();
        let _ = writeln!(
            page,
            "<tr class=\"command\"><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num saving\">{}</td></tr>",
            i + 1,
            escape(&d.method),
            escape(&d.reason),
            escape(&d.candidates.join(", ")),
            escape(&launch.join("; ")),
            money(d.price_per_hour_before),
            money(d.price_per_hour_after),
            money(d.savings_per_hour)
        );
    }
    if !commands.is_empty() {
        page.push_str("</tbody></table>\n");
    }
    if kept.is_empty() {
        return;
    }
    let _ = writeln!(
        page,
        "<h2>Kept ({})</h2>\n<table id=\"kept\"><thead><tr><th>Node</th><th>Why it stays</th></tr></thead><tbody>",
        kept.len()
    );
    for k in kept {
        let _ = writeln!(
            page,
            "<tr class=\"kept\"><td>{}</td><td>{}</td></tr>",
            escape(&k.node),
            escape(&k.reason)
        );
    }
    page.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests;
