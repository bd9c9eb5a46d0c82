#!/usr/bin/env python3
"""Builds the head-to-head markdown table from the raw outputs bench/head-to-head.sh
saved: upstream `go test -bench` lines and kerf-bench's markdown table.

Run by head-to-head.sh; can be re-run on a kept raw folder:
    python3 bench/head_to_head_table.py bench-out/head-to-head --sizes "100 1000" ...
"""

import argparse
import pathlib
import re
import sys

UPSTREAM_LINE = re.compile(r"^(Benchmark\S+?)-\d+\s+(\d+)\s+([\d.e+]+) ns/op(.*)$")
METRIC = re.compile(r"([\d.e+]+)\s+(\S+)")
ROUND_FILE = re.compile(r"^(upstream|kerf)-(.+)-r(\d+)\.txt$")
COST_FILE = re.compile(r"^upstreamcost-(.+)\.txt$")
PROBE_LINE = re.compile(r"^KERF_COST_PROBE workload=\S+ pods=(\d+) nodes=(\d+) cost=([\d.]+)")
PREF_NAMES = {"prefrespect": "respect", "prefignore": "ignore"}


def parse_upstream(path):
    """{'iterations', 'secs', 'pods/sec', 'nodes', ...} from a go test -bench output."""
    for line in path.read_text(errors="replace").splitlines():
        m = UPSTREAM_LINE.match(line.strip())
        if not m:
            continue
        rec = {"iterations": int(m.group(2)), "secs": float(m.group(3)) / 1e9}
        for value, unit in METRIC.findall(m.group(4)):
            rec[unit] = float(value)
        return rec
    return None


def parse_kerf_rows(path):
    """Every data row of kerf-bench's markdown table, as {lower-cased header: cell}."""
    rows, header = [], None
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
        elif all(set(c) <= set("-: ") for c in cells):
            continue
        else:
            rows.append(dict(zip(header, cells)))
    return rows


def number(row, *names):
    for name in names:
        cell = row.get(name)
        if cell is None:
            continue
        try:
            return float(cell.replace(",", "").replace("$", ""))
        except ValueError:
            return None
    return None


def kerf_record(row):
    return {
        "pods/sec": number(row, "pods/s", "pods/sec"),
        "nodes": number(row, "nodes"),
        "cost": number(row, "$/h", "cost $/h"),
        "bound": number(row, "lower bound $/h", "bound $/h"),
        "secs": number(row, "best solve (s)", "solve (s)"),
        "scheduled": number(row, "scheduled"),
        "pods": number(row, "pods"),
    }


def collect(raw):
    """{(side, workload): {round: record}}; workloads are sizes or 'respect'/'ignore'."""
    runs = {}
    for path in sorted(raw.iterdir()):
        c = COST_FILE.match(path.name)
        if c:
            for line in path.read_text(errors="replace").splitlines():
                p = PROBE_LINE.match(line)
                if p:
                    workload = PREF_NAMES.get(c.group(1), c.group(1))
                    runs[("upstreamcost", workload)] = {"nodes": float(p.group(2)), "cost": float(p.group(3))}
            continue
        m = ROUND_FILE.match(path.name)
        if not m:
            continue
        side, name, rnd = m.group(1), m.group(2), int(m.group(3))
        if side == "upstream":
            rec = parse_upstream(path)
            if rec:
                workload = PREF_NAMES.get(name, name)
                runs.setdefault((side, workload), {})[rnd] = rec
            continue
        for row in parse_kerf_rows(path):
            label = row.get("workload", "").lower()
            rec = kerf_record(row)
            if "respect" in label or "ignore" in label:
                workload = "respect" if "respect" in label else "ignore"
                # The alternated preference runs; rows from size runs are a fallback.
                side_key = "kerf" if name == "preferences" else "kerf-fallback"
                runs.setdefault((side_key, workload), {}).setdefault(rnd, rec)
            elif label == "diverse" and name.isdigit() and rec["pods"] == float(name):
                runs.setdefault((side, name), {}).setdefault(rnd, rec)
    for workload in ("respect", "ignore"):
        if ("kerf", workload) not in runs and ("kerf-fallback", workload) in runs:
            runs[("kerf", workload)] = runs[("kerf-fallback", workload)]
            runs["fallback-note"] = True
    return runs


def fmt(value, digits=0):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def same_or_all(values, digits=0):
    """One figure when every round agrees, else each round's figure."""
    seen = [v for v in values if v is not None]
    if not seen:
        return "n/a"
    if all(v == seen[0] for v in seen):
        return fmt(seen[0], digits)
    return " / ".join(fmt(v, digits) for v in seen)


def summary_row(label, up, kf, cost):
    up_best = max((r["pods/sec"] for r in up.values() if r.get("pods/sec")), default=None)
    kf_best = max((r["pods/sec"] for r in kf.values() if r.get("pods/sec")), default=None)
    ratio = f"{kf_best / up_best:,.1f}×" if up_best and kf_best else "n/a"
    return (
        f"| {label} | {fmt(up_best)} | {fmt(kf_best)} | {ratio} "
        f"| {same_or_all([r.get('nodes') for r in up.values()])} "
        f"| {same_or_all([r.get('nodes') for r in kf.values()])} "
        f"| {fmt(cost.get('cost'), 2)} "
        f"| {same_or_all([r.get('cost') for r in kf.values()], 2)} "
        f"| {same_or_all([r.get('bound') for r in kf.values()], 2)} |"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=pathlib.Path)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--preferences", type=int, default=1)
    for name in ("nproc", "cpu", "date", "upstream", "go", "kerf-rev", "rustc", "loadavg", "command"):
        ap.add_argument(f"--{name}", default="unknown")
    a = ap.parse_args()
    runs = collect(a.raw)
    workloads = [(s, f"{int(s):,}") for s in a.sizes.split()]
    if a.preferences:
        workloads += [("respect", "4,000 preferences, Respect"), ("ignore", "4,000 preferences, Ignore")]

    out = [
        "# Scheduling solve, head to head with upstream Karpenter",
        "",
        f"- Machine: {a.nproc} CPUs, {a.cpu}; shared with other builds while measured "
        f"(load average at start {a.loadavg}).",
        f"- Date: {a.date}",
        f"- Upstream: `sigs.k8s.io/karpenter` {a.upstream} (pinned in `bench/upstream/go.mod`), {a.go}, "
        "`go test -tags test_performance -run=XXX -bench='^BenchmarkScheduling<N>$' "
        "sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling`, one benchmark per process.",
        f"- kerf: git {a.kerf_rev}, {a.rustc}, `cargo run --release -p kerf-bench -- <N>` (row `diverse`).",
        f"- Command: `{a.command}`; {a.rounds} rounds per size, alternating kerf, upstream, kerf, "
        "upstream. Re-run and update this file with `bench/head-to-head.sh --commit-docs`.",
        "",
        "| pods | upstream pods/s | kerf pods/s | kerf ÷ upstream | upstream nodes | kerf nodes "
        "| upstream $/h | kerf $/h | lower bound $/h |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in workloads:
        out.append(
            summary_row(
                label,
                runs.get(("upstream", key), {}),
                runs.get(("kerf", key), {}),
                runs.get(("upstreamcost", key), {}),
            )
        )
    notes = a.raw / "notes.txt"
    lines = notes.read_text().splitlines() if notes.exists() else []
    if runs.get("fallback-note"):
        lines.append("kerf's preference figures come from the preference rows of its size runs.")
    lines = [line for line in lines if line.strip()]
    if lines:
        out += [""] + [f"- {line}" for line in lines]
    out += [
        "",
        "pods/s is the best round for each side. Upstream's figure is N ÷ mean time per `Solve()` "
        "over the `b.N` iterations `go test` chose in that round; kerf-bench's is N ÷ its best "
        "`solve()` of several in one process. Upstream's node count comes from its first "
        "iteration. Upstream's benchmark does not report $/h: its $/h is from the cost probe "
        "(`bench/upstream/costprobe`), one more upstream `Solve()` in a fresh process on the "
        "same pods as the benchmark's first iteration (upstream's plan varies a little between "
        "processes: its solve runs concurrent reconciles), each NodeClaim priced at its cheapest "
        "available compatible offering (what the fake provider's `Create` launches). The lower bound is kerf-bench's, computed from kerf's pods. "
        "Both sides draw the same five pod groups from the same distributions with seed 42, "
        "but with different generators (Go math/rand vs ChaCha8), so the pods are not identical.",
        "",
        "## Every round",
        "",
        "| workload | round | side | iterations | s per solve | pods/s | nodes | $/h |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in workloads:
        for side in ("upstream", "kerf"):
            for rnd, rec in sorted(runs.get((side, key), {}).items()):
                out.append(
                    f"| {label} | {rnd} | {side} | {rec.get('iterations', 'best of n')} "
                    f"| {fmt(rec.get('secs'), 3)} | {fmt(rec.get('pods/sec'))} "
                    f"| {fmt(rec.get('nodes'))} | {fmt(rec.get('cost'), 2)} |"
                )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
