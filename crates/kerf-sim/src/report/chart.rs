//! The report page's inline SVG: a horizontal bar chart of $/h per group
//! (pool, instance type) and the utilisation meters of the node table. Plain
//! markup, sized in the SVG's own units, so the page needs no script and no
//! network to draw them.

use std::fmt::Write as _;

use super::html::escape;
use super::money;

/// One bar: what it stands for, its $/h and how many nodes make it up.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Bar {
    pub label: String,
    pub price_per_hour: f64,
    pub nodes: usize,
}

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 230.0;
/// Room right of the longest bar for its `$x/h (n nodes)` label.
const VALUE_WIDTH: f64 = 170.0;
const ROW: f64 = 28.0;
const BAR: f64 = 18.0;

/// Sums `rows` into one bar per key, dearest first (ties by key).
pub(super) fn group(rows: impl Iterator<Item = (String, f64)>) -> Vec<Bar> {
    let mut bars: Vec<Bar> = Vec::new();
    for (label, price) in rows {
        match bars.iter_mut().find(|b| b.label == label) {
            Some(bar) => {
                bar.price_per_hour += price;
                bar.nodes += 1;
            }
            None => bars.push(Bar {
                label,
                price_per_hour: price,
                nodes: 1,
            }),
        }
    }
    bars.sort_by(|a, b| {
        b.price_per_hour
            .total_cmp(&a.price_per_hour)
            .then_with(|| a.label.cmp(&b.label))
    });
    bars
}

/// The `$x/h (n nodes)` text next to a bar.
pub(super) fn value_label(bar: &Bar) -> String {
    let s = if bar.nodes == 1 { "" } else { "s" };
    format!("${}/h ({} node{s})", money(bar.price_per_hour), bar.nodes)
}

/// `<svg id=…>` with one `<g class="bar">` per bar, each holding the
/// group's name, the bar and its value label.
pub(super) fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let height = ROW * bars.len() as f64 + 8.0;
    let max = bars
        .iter()
        .map(|b| b.price_per_hour)
        .fold(0.0_f64, f64::max);
    let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg class="chart" id="{id}" role="img" aria-label="{title}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#,
        id = escape(id),
        title = escape(title),
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = ROW * i as f64 + 4.0;
        let length = if max > 0.0 {
            (bar.price_per_hour / max * span).max(2.0)
        } else {
            2.0
        };
        let text_y = y + BAR - 5.0;
        let _ = writeln!(
            svg,
            r#"<g class="bar" data-label="{label}"><text class="name" x="{name_x}" y="{text_y}" text-anchor="end">{label}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1}" height="{BAR}" rx="2"></rect><text class="value" x="{value_x:.1}" y="{text_y}">{value}</text></g>"#,
            label = escape(&bar.label),
            name_x = LABEL_WIDTH - 8.0,
            value_x = LABEL_WIDTH + length + 6.0,
            value = escape(&value_label(bar)),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A utilisation meter: a bar filled to `percent` (capped at 100) and the
/// figure next to it.
pub(super) fn meter(percent: f64) -> String {
    let fill = percent.clamp(0.0, 100.0);
    format!(
        r#"<svg class="meter" width="100" height="12" viewBox="0 0 100 12"><rect class="track" width="100" height="12" rx="2"></rect><rect class="fill" width="{fill:.1}" height="12" rx="2"></rect></svg> <span class="percent">{percent:.1}%</span>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_sum_per_key_dearest_first() {
        let bars = group(
            [
                ("a".to_string(), 0.1),
                ("b".to_string(), 0.3),
                ("a".to_string(), 0.1),
            ]
            .into_iter(),
        );
        assert_eq!(bars.len(), 2);
        assert_eq!((bars[0].label.as_str(), bars[0].nodes), ("b", 1));
        assert_eq!((bars[1].label.as_str(), bars[1].nodes), ("a", 2));
        assert_eq!(value_label(&bars[1]), "$0.2000/h (2 nodes)");
        let svg = bar_chart("x", "t", &bars);
        assert_eq!(svg.matches(r#"<g class="bar""#).count(), 2);
        assert!(svg.contains("$0.3000/h (1 node)"), "{svg}");
    }

    #[test]
    fn a_meter_never_overflows_its_track() {
        let m = meter(140.0);
        assert!(m.contains(r#"width="100.0""#), "{m}");
        assert!(m.contains("140.0%"), "{m}");
    }
}
