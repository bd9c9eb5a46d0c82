//! The report page's text: escaped, with the plan's numbers.

use super::*;
use crate::report::{
    DisruptionRow, KeptRow, NodeRow, PodCounts, ReplacementRow, UnschedulableRow, Usage,
};

fn node(name: &str, pool: &str, instance_type: &str, price: f64, pods: &[&str]) -> NodeRow {
    NodeRow {
        name: name.to_string(),
        pool_kind: "NodePool".to_string(),
        pool: pool.to_string(),
        instance_type: instance_type.to_string(),
        zone: "us-east-1a".to_string(),
        capacity_type: "spot".to_string(),
        price_per_hour: price,
        provider_id: String::new(),
        pods: pods.iter().map(ToString::to_string).collect(),
        cpu: Usage {
            requested: "7".to_string(),
            allocatable: "7910m".to_string(),
            percent: 88.5,
        },
        memory: Usage {
            requested: "1Gi".to_string(),
            allocatable: "28.6Gi".to_string(),
            percent: 3.5,
        },
        instance_type_options: vec![instance_type.to_string()],
    }
}

fn unschedulable(pod: &str, reason: &str) -> UnschedulableRow {
    UnschedulableRow {
        pod: pod.to_string(),
        reason: reason.to_string(),
    }
}

fn report() -> Report {
    let nodes = vec![
        node(
            "general-a",
            "general",
            "m5.2xlarge",
            0.1545,
            &["default/a", "default/b"],
        ),
        node("general-b", "general", "m5.large", 0.0960, &["default/c"]),
        node("gpu-a", "gpu", "m5.2xlarge", 0.1545, &["default/d"]),
    ];
    Report {
        total_price_per_hour: 0.405,
        nodes,
        unschedulable: vec![
            unschedulable("default/huge-0", "no instance type has 512Gi memory"),
            unschedulable("default/<script>alert(1)</script>", "taint \"a\"=<b> & 'c'"),
            unschedulable("default/huge-1", "no instance type has 512Gi memory"),
        ],
        pods: PodCounts {
            pending: 7,
            on_new_nodes: 4,
            on_existing_nodes: 0,
            unschedulable: 3,
        },
        ..Report::default()
    }
}

/// The text between `<tag id="id">` and the next `<`.
fn text_of<'a>(page: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = page
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {page}"))
        + open.len();
    let end = page[start..].find('<').map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[test]
fn escapes_the_five_characters() {
    assert_eq!(
        escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
    );
}

#[test]
fn a_hostile_pod_name_or_reason_stays_text() {
    let page = html(&report());
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    assert!(
        page.contains("default/&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("taint &quot;a&quot;=&lt;b&gt; &amp; &#39;c&#39;"),
        "{page}"
    );
    let mut hostile = report();
    hostile.nodes[0].name = "x\"><script>".to_string();
    hostile.nodes[0].pool = "<img src=x>".to_string();
    let page = html(&hostile);
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "{page}"
    );
    assert!(
        page.contains("data-node=\"x&quot;&gt;&lt;script&gt;\""),
        "{page}"
    );
}

#[test]
fn the_header_holds_the_totals() {
    let page = html(&report());
    assert_eq!(text_of(&page, "total-nodes"), "3");
    assert_eq!(text_of(&page, "total-hourly"), "$0.4050");
    // 0.405 × 730 = 295.65
    assert_eq!(text_of(&page, "total-monthly"), "$295.65");
    assert_eq!(text_of(&page, "pods-pending"), "7");
    assert_eq!(text_of(&page, "pods-new"), "4");
    assert_eq!(text_of(&page, "pods-existing"), "0");
    assert_eq!(text_of(&page, "pods-unschedulable"), "3");
}

/// The chart between `<svg … id="id"` and its `</svg>`.
fn chart_of<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page.find(&format!("id=\"{id}\"")).expect("chart");
    let end = start + page[start..].find("</svg>").expect("end of chart");
    &page[start..end]
}

#[test]
fn the_charts_have_one_bar_per_pool_and_per_type_with_its_cost() {
    let page = html(&report());
    let pools = chart_of(&page, "cost-by-pool");
    assert_eq!(pools.matches("<g class=\"bar\"").count(), 2, "{pools}");
    // general: 0.1545 + 0.0960, dearest first.
    let general = pools
        .find("data-label=\"nodepool general\"")
        .expect("general");
    let gpu = pools.find("data-label=\"nodepool gpu\"").expect("gpu");
    assert!(general < gpu, "{pools}");
    assert!(pools.contains(">$0.2505/h (2 nodes)<"), "{pools}");
    assert!(pools.contains(">$0.1545/h (1 node)<"), "{pools}");
    let types = chart_of(&page, "cost-by-type");
    assert_eq!(types.matches("<g class=\"bar\"").count(), 2, "{types}");
    assert!(types.contains(">m5.2xlarge</text>"), "{types}");
    assert!(types.contains(">$0.3090/h (2 nodes)<"), "{types}");
    assert!(types.contains(">$0.0960/h (1 node)<"), "{types}");
}

#[test]
fn one_row_per_node_with_its_figures() {
    let page = html(&report());
    assert_eq!(page.matches("<tr class=\"node\"").count(), 3);
    let row_start = page.find("data-node=\"general-b\"").expect("row");
    let row = &page[row_start..row_start + page[row_start..].find("</tr>").expect("end")];
    for cell in [
        ">nodepool general<",
        ">m5.large<",
        ">us-east-1a<",
        ">spot<",
        ">0.0960<",
        ">1<",
        "88.5%",
        "7/7910m",
        "3.5%",
        "1Gi/28.6Gi",
    ] {
        assert!(row.contains(cell), "{cell} not in {row}");
    }
}

#[test]
fn unschedulable_pods_are_grouped_by_reason() {
    let page = html(&report());
    assert_eq!(page.matches("<tr class=\"reason-group\"").count(), 2);
    let memory = page
        .find("<td class=\"reason\">no instance type has 512Gi memory</td>")
        .expect("memory group");
    let rest = &page[memory..];
    assert!(
        rest.contains(
            "<td class=\"num count\">2</td><td class=\"pods\">default/huge-0, default/huge-1</td>"
        ),
        "{rest}"
    );
    // The bigger group comes first.
    assert!(memory < page.find("taint &quot;a&quot;").expect("taint group"));
}

#[test]
fn no_nodes_and_disruption_commands() {
    let r = Report {
        disruptions: Some(vec![DisruptionRow {
            method: "multi-node consolidation".to_string(),
            reason: "Underutilized".to_string(),
            candidates: vec!["n1".to_string(), "n2".to_string()],
            replacements: vec![ReplacementRow {
                node: "default-x".to_string(),
                instance_type: "m5.2xlarge".to_string(),
                zone: "us-east-1a".to_string(),
                capacity_type: "spot".to_string(),
                price_per_hour: 0.1471,
            }],
            price_per_hour_before: 0.384,
            price_per_hour_after: 0.1471,
            savings_per_hour: 0.2369,
        }]),
        kept: Some(vec![KeptRow {
            node: "n3".to_string(),
            reason: "pod default/report-0 has karpenter.sh/do-not-disrupt".to_string(),
        }]),
        ..Report::default()
    };
    let page = html(&r);
    assert!(page.contains("No new nodes needed."), "{page}");
    assert!(!page.contains("<svg class=\"chart\""), "{page}");
    assert_eq!(page.matches("<tr class=\"command\"").count(), 1);
    for text in [
        ">multi-node consolidation<",
        ">Underutilized<",
        ">n1, n2<",
        ">default-x: m5.2xlarge us-east-1a spot $0.1471/h<",
        ">0.3840<",
        ">0.2369<",
        "id=\"total-saving\">$0.2369/h<",
        "($172.94/month)",
        "<tr class=\"kept\"><td>n3</td><td>pod default/report-0 has karpenter.sh/do-not-disrupt</td></tr>",
    ] {
        assert!(page.contains(text), "{text} not in {page}");
    }
}

#[test]
fn the_page_fetches_nothing() {
    let page = html(&report());
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    for forbidden in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!page.contains(forbidden), "{forbidden} in {page}");
    }
}
