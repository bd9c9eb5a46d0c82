//! Markdown for [`Evaluation`]s: the summary table, and per mix what kerf,
//! the baseline and the LP optimum bought.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Evaluation;

fn money(v: f64) -> String {
    format!("{v:.2}")
}

/// The summary table, one row per evaluation.
pub fn table(rows: &[Evaluation]) -> String {
    let mut out = String::from(
        "| mix | pods | kerf $/h | FFD $/h | per-dim bound $/h | LP bound $/h | pattern bound $/h | zonal bound $/h | kerf ÷ best bound | FFD ÷ best bound | nodes (kerf / FFD) | solve (s) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let bound = r.best_bound();
        let (ffd_cost, ffd_ratio, ffd_nodes) = match &r.ffd {
            Ok(b) => (
                money(b.cost),
                format!("{:.3}", b.cost / bound),
                b.nodes.to_string(),
            ),
            Err(_) => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} ({}) | {} | {}{} | {} | {:.3} | {} | {} / {} | {:.3} |",
            r.mix,
            r.pods,
            money(r.kerf_cost),
            ffd_cost,
            money(r.per_dimension),
            r.binding.as_deref().unwrap_or("-"),
            money(r.lp.cost),
            money(r.pattern.cost),
            // A dagger: the cutting planes stopped more than 0.1% short of the
            // configuration LP's optimum; the figure is still a bound.
            if r.pattern.gap <= 1e-3 { "" } else { "†" },
            zonal(r),
            r.kerf_cost / bound,
            ffd_ratio,
            r.kerf_nodes,
            ffd_nodes,
            r.solve_seconds,
        );
    }
    out
}

/// The zonal bound and the resource that binds it, or "-" where it claims nothing.
fn zonal(r: &Evaluation) -> String {
    match &r.zonal.binding {
        Some(d) => format!("{} ({d})", money(r.zonal.cost)),
        None => "-".into(),
    }
}

fn top<V: Copy + PartialOrd>(m: &BTreeMap<String, V>, fmt: impl Fn(V) -> String) -> String {
    let mut v: Vec<(&String, V)> = m.iter().map(|(k, v)| (k, *v)).collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    v.iter()
        .take(6)
        .map(|(k, n)| format!("{} × {k}", fmt(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per evaluation: the instance types each side bought (largest counts first),
/// and anything that makes a row suspect (validator findings, pods left out).
pub fn details(rows: &[Evaluation]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = writeln!(out, "- **{} × {}**", r.mix, r.pods);
        let _ = writeln!(out, "  - kerf: {}", top(&r.kerf_types, |n| n.to_string()));
        match &r.ffd {
            Ok(b) => {
                let _ = writeln!(out, "  - FFD: {}", top(&b.types, |n| n.to_string()));
                if b.unplaced > 0 {
                    let _ = writeln!(out, "  - FFD left {} pods unplaced", b.unplaced);
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  - FFD: n/a ({e})");
            }
        }
        let _ = writeln!(out, "  - LP: {}", top(&r.lp_types, |x| format!("{x:.1}")));
        if r.kerf_unschedulable > 0 || r.impossible > 0 {
            let _ = writeln!(
                out,
                "  - unschedulable: kerf {}, by every instance type {}",
                r.kerf_unschedulable, r.impossible
            );
        }
        for v in &r.validator {
            let _ = writeln!(out, "  - plan validator: {v}");
        }
    }
    out
}
