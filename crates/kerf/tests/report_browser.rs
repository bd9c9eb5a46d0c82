//! `kerf simulate --report FILE.html` opened in a real browser: the built
//! binary writes the page, headless Chromium (`$KERF_CHROMIUM`, default
//! /usr/bin/chromium; scripts/os-tools.sh installs it) parses it and
//! takes a screenshot. The DOM Chromium built must hold the numbers of
//! `kerf simulate -o json` on the same input: totals, one row per node, one
//! chart bar per pool and per instance type, the unschedulable pods grouped by
//! reason and the disruption commands. Without Chromium the tests fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn kerf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf")
}

fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("KERF_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        path.is_file(),
        "Chromium is not at {} (set KERF_CHROMIUM, or run scripts/os-tools.sh)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `page` with a fresh profile, killed after a minute.
fn browse(page: &Path, extra: &[String]) -> Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The page of `kerf simulate ARGS --report`, as Chromium's DOM, with the
/// JSON plan of the same input.
fn render(dir: &Path, name: &str, args: &[&str], code: i32) -> (String, Value, PathBuf) {
    let page = dir.join(format!("{name}.html"));
    let page_arg = page.display().to_string();
    let mut with_report = vec!["simulate"];
    with_report.extend_from_slice(args);
    with_report.extend(["--report", page_arg.as_str()]);
    let out = kerf(&with_report);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
    assert!(!out.stdout.is_empty(), "{name}: no table on stdout");

    let mut json_args = vec!["simulate", "-o", "json"];
    json_args.extend_from_slice(args);
    let out = kerf(&json_args);
    assert_eq!(out.status.code(), Some(code), "{name}: -o json");
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json plan");

    // Self-contained: nothing for the browser to run or fetch.
    let raw = std::fs::read_to_string(&page).expect("the page");
    for outside in ["<script", "<link", "http://", "https://", "url("] {
        assert!(!raw.contains(outside), "{name}: {outside} in {raw}");
    }
    let dom = browse(&page, &["--dump-dom".to_string()]);
    let dom = String::from_utf8(dom.stdout).expect("utf-8 DOM");
    assert!(dom.contains("</body></html>"), "{name}: DOM {dom}");
    (dom, plan, page)
}

/// Text as Chromium serialises it inside an element.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn money(v: &Value) -> String {
    format!("{:.4}", v.as_f64().expect("a price"))
}

fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = dom.find(&open).unwrap_or_else(|| panic!("no #{id}")) + open.len();
    &dom[start..start + dom[start..].find('<').expect("end of text")]
}

/// From `start` (a substring) to the next `end`.
fn element<'a>(dom: &'a str, start: &str, end: &str) -> &'a str {
    let from = dom.find(start).unwrap_or_else(|| panic!("no {start}"));
    &dom[from..from + dom[from..].find(end).expect("end of element")]
}

fn assert_plan(dom: &str, plan: &Value) {
    let nodes = plan["nodes"].as_array().expect("nodes");
    let total = plan["totalPricePerHour"].as_f64().expect("total");
    assert_eq!(text_of(dom, "total-nodes"), nodes.len().to_string());
    assert_eq!(text_of(dom, "total-hourly"), format!("${total:.4}"));
    assert_eq!(
        text_of(dom, "total-monthly"),
        format!("${:.2}", total * 730.0)
    );
    for (id, field) in [
        ("pods-pending", "pending"),
        ("pods-new", "onNewNodes"),
        ("pods-existing", "onExistingNodes"),
        ("pods-unschedulable", "unschedulable"),
    ] {
        assert_eq!(text_of(dom, id), plan["pods"][field].to_string(), "{id}");
    }

    assert_eq!(dom.matches("<tr class=\"node\"").count(), nodes.len());
    let mut by_pool: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut by_type: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for n in nodes {
        let name = n["name"].as_str().expect("name");
        let pool = format!(
            "{} {}",
            n["poolKind"].as_str().expect("kind").to_lowercase(),
            n["pool"].as_str().expect("pool")
        );
        let row = element(dom, &format!("data-node=\"{name}\""), "</tr>");
        let pods = n["pods"].as_array().expect("pods").len();
        for cell in [
            format!(">{}<", escaped(&pool)),
            format!(">{}<", n["instanceType"].as_str().expect("type")),
            format!(">{}<", n["zone"].as_str().expect("zone")),
            format!(">{}<", n["capacityType"].as_str().expect("capacity")),
            format!(">{}<", money(&n["pricePerHour"])),
            format!(">{pods}<"),
            format!(">{:.1}%<", n["cpu"]["percent"].as_f64().expect("cpu")),
            format!(">{:.1}%<", n["memory"]["percent"].as_f64().expect("memory")),
        ] {
            assert!(
                row.contains(&cell),
                "{cell} not in the row of {name}: {row}"
            );
        }
        let price = n["pricePerHour"].as_f64().expect("price");
        let instance_type = n["instanceType"].as_str().expect("type").to_string();
        for (group, key) in [(&mut by_pool, pool), (&mut by_type, instance_type)] {
            let entry = group.entry(key).or_default();
            entry.0 += price;
            entry.1 += 1;
        }
    }
    for (id, groups) in [("cost-by-pool", by_pool), ("cost-by-type", by_type)] {
        if groups.is_empty() {
            assert!(!dom.contains(&format!("id=\"{id}\"")), "{id} without nodes");
            continue;
        }
        let chart = element(dom, &format!("id=\"{id}\""), "</svg>");
        assert_eq!(
            chart.matches("<g class=\"bar\"").count(),
            groups.len(),
            "{chart}"
        );
        for (label, (price, count)) in groups {
            let bar = element(chart, &format!("data-label=\"{label}\""), "</g>");
            let s = if count == 1 { "" } else { "s" };
            for text in [
                format!(">{}</text>", escaped(&label)),
                format!(">${price:.4}/h ({count} node{s})</text>"),
                "<rect ".to_string(),
            ] {
                assert!(bar.contains(&text), "{text} not in {bar}");
            }
        }
    }
}

fn assert_screenshot(page: &Path, png: &Path) {
    browse(
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".to_string(),
        ],
    );
    let bytes = std::fs::read(png).expect("the screenshot");
    assert!(bytes.len() > 10_000, "{} bytes: a blank page?", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    // IHDR: width and height, big-endian, right after the chunk header.
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert_eq!((width, height), (1200, 1600));
}

#[test]
fn seed_report_renders_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (dom, plan, page) = render(dir.path(), "seed", &[&example("seed")], 0);
    assert_plan(&dom, &plan);
    assert!(!dom.contains("id=\"disruptions\""), "no --disruption");
    assert_screenshot(&page, &dir.path().join("seed.png"));
}

#[test]
fn seed_and_consolidation_report_renders_the_disruption_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--disruption", &example("seed"), &example("consolidation")];
    let (dom, plan, page) = render(dir.path(), "consolidation", &args, 0);
    assert_plan(&dom, &plan);

    let commands = plan["disruptions"].as_array().expect("disruptions");
    assert!(!commands.is_empty());
    let rows: Vec<&str> = dom
        .match_indices("<tr class=\"command\">")
        .map(|(at, _)| &dom[at..at + dom[at..].find("</tr>").expect("end of row")])
        .collect();
    assert_eq!(rows.len(), commands.len());
    let mut saving = 0.0;
    for (i, (row, c)) in rows.iter().zip(commands).enumerate() {
        let candidates: Vec<&str> = c["candidates"]
            .as_array()
            .expect("candidates")
            .iter()
            .map(|n| n.as_str().expect("candidate"))
            .collect();
        let mut cells = vec![
            format!(">{}<", i + 1),
            format!(">{}<", c["method"].as_str().expect("method")),
            format!(">{}<", c["reason"].as_str().expect("reason")),
            format!(">{}<", candidates.join(", ")),
            format!(">{}<", money(&c["savingsPerHour"])),
        ];
        for r in c["replacements"].as_array().expect("replacements") {
            cells.push(format!(
                "{}: {} {} {} ${}/h",
                r["node"].as_str().expect("node"),
                r["instanceType"].as_str().expect("type"),
                r["zone"].as_str().expect("zone"),
                r["capacityType"].as_str().expect("capacity"),
                money(&r["pricePerHour"])
            ));
        }
        for cell in cells {
            assert!(
                row.contains(&cell),
                "{cell} not in command {}: {row}",
                i + 1
            );
        }
        saving += c["savingsPerHour"].as_f64().expect("saving");
    }
    assert_eq!(text_of(&dom, "total-saving"), format!("${saving:.4}/h"));

    let kept = plan["kept"].as_array().expect("kept");
    assert_eq!(dom.matches("<tr class=\"kept\">").count(), kept.len());
    for k in kept {
        let row = format!(
            "<tr class=\"kept\"><td>{}</td><td>{}</td></tr>",
            k["node"].as_str().expect("node"),
            escaped(k["reason"].as_str().expect("reason"))
        );
        assert!(dom.contains(&row), "{row} not in {dom}");
    }
    assert_screenshot(&page, &dir.path().join("consolidation.png"));
}

#[test]
fn unschedulable_report_groups_pods_by_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (dom, plan, _) = render(dir.path(), "unschedulable", &[&example("unschedulable")], 1);
    assert_plan(&dom, &plan);
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for u in plan["unschedulable"].as_array().expect("unschedulable") {
        groups
            .entry(u["reason"].as_str().expect("reason"))
            .or_default()
            .push(u["pod"].as_str().expect("pod"));
    }
    assert!(!groups.is_empty());
    assert_eq!(
        dom.matches("<tr class=\"reason-group\">").count(),
        groups.len()
    );
    for (reason, pods) in groups {
        let row = format!(
            "<td class=\"reason\">{}</td><td class=\"num count\">{}</td><td class=\"pods\">{}</td>",
            escaped(reason),
            pods.len(),
            escaped(&pods.join(", "))
        );
        assert!(dom.contains(&row), "{row} not in {dom}");
    }
}
