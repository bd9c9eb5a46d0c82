#!/usr/bin/env python3
"""Markdown table of bench/controller-head-to-head.sh --scale-down-to's raw results.

    disruption_table.py RAW_DIR --sizes "5000" --to 1000 --runs 3 --machine ... --date ... --versions ... --command ... --plane ...

RAW_DIR holds <controller>-<pods>-<run>.json (one JSON object from the controller_h2h
example, with its "scale_down" phase) and, for a failed run, <controller>-<pods>-<run>.log;
notes.txt lines are appended as notes. Each figure is the median over a controller's
finished runs; the goal (issue 26) is judged on those medians.
"""

import argparse
import os

import h2h_table  # same directory: load_runs, median_result, cell, ratio
from h2h_table import cell, ratio

# key in the scale_down object, header, format
FIGURES = [
    ("seconds_to_fleet_stable", "scale-down → last fleet change (s)", "{:.1f}"),
    ("dollars_per_hour", "final fleet $/h", "{:.4f}"),
    ("nodes_at_end", "final nodes", "{:d}"),
    ("nodes_removed", "nodes removed", "{:d}"),
    ("nodes_added", "nodes launched", "{:d}"),
    ("evictions", "evictions", "{:d}"),
    ("peak_rss_mib", "peak RSS, whole run (MiB)", "{:.1f}"),
    ("cpu_seconds_scale_down", "CPU s (scale-down phase)", "{:.2f}"),
]
LABELS = {"upstream": "upstream", "kerf": "kerf"}
# The goal: a fleet at least as cheap, sooner, with no more evictions.
GOAL = ["dollars_per_hour", "seconds_to_fleet_stable", "evictions"]


def load_runs(raw, controller, pods, runs):
    return h2h_table.load_runs(raw, controller, pods, runs, phase="scale_down")


def median_result(loaded):
    return h2h_table.median_result(loaded, FIGURES)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("raw")
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--to", type=int, required=True)
    for flag in ["--sizes", "--machine", "--date", "--versions", "--command", "--plane"]:
        p.add_argument(flag, required=True)
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split()]
    out = ["# Disruption, head to head: upstream Karpenter's kwok build vs `kerf controller`", ""]
    out += [
        f"- Machine: {a.machine}",
        f"- Date: {a.date}",
        f"- Versions: {a.versions}",
        f"- Command: `{a.command}`",
        f"- Control plane: {a.plane}",
        "- Workload: a Deployment of `pause` pods (100m CPU, 128Mi each) scaled from 0 to N with "
        "consolidation off (`consolidateAfter: Never`) on a fresh control plane per run; once every pod "
        "runs, the NodePool's `consolidateAfter` is set to `1h` for 60 s (consolidation on, as between "
        "a peak and its scale-down, with no node quiet long enough to act on), then to `0s` (Karpenter "
        f"v1's default; policy WhenEmptyOrUnderutilized, default budget 10%) and the Deployment scaled "
        f"down to {a.to:,}. "
        "The phase ends when every remaining pod is Running and no Node was added or removed for the "
        "quiet window (see each run). Upstream, then kerf, "
        f"{a.runs} time(s) (A B A B). Same NodePool and the same 144 instance types, prices and 4 zones "
        "(upstream's `kwok/cloudprovider/instance_types.json`, converted into a kerf catalogue for kerf).",
        "- Last fleet change: from the scale-down command to the last Node added or removed. "
        "Evictions: pods the ReplicaSet created after the scale-down (each replaces an evicted pod). "
        "Final fleet: the Nodes standing at the end, at the catalogue's prices. Peak RSS: the "
        "controller's VmHWM over the whole run (scale-up included). CPU: utime + stime over the phase.",
        "",
    ]
    header = ["pods", "controller"] + [h for _, h, _ in FIGURES]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    goals, every_run, fleets = [], [], []
    for n in sizes:
        loaded = {c: load_runs(a.raw, c, n, a.runs) for c in LABELS}
        results = {c: median_result(loaded[c]) for c in LABELS}
        up, kerf = results["upstream"], results["kerf"]
        label = f"{n:,} → {a.to:,}"
        for c in LABELS:
            out.append("| " + " | ".join([label, LABELS[c]] + [cell(results[c], k, f) for k, _, f in FIGURES]) + " |")
        out.append("| " + " | ".join([label, "**kerf / upstream**"] + [ratio(up, kerf, k) for k, _, _ in FIGURES]) + " |")
        if isinstance(up, dict) and isinstance(kerf, dict):
            worse = [h for k, h, _ in FIGURES if k in GOAL and kerf[k] > up[k] + 1e-9]
            goals.append(
                f"- {label} pods: kerf's fleet at least as cheap, sooner, with no more evictions: "
                + ("**yes**" if not worse else "**no** (higher: " + ", ".join(worse) + ")")
            )
        for c in LABELS:
            runs = []
            for i, r in loaded[c]:
                if r == "failed":
                    runs.append(f"run {i} failed")
                    continue
                runs.append(
                    f"{r['seconds_to_fleet_stable']:.1f} s, {r['nodes_at_end']} nodes, ${r['dollars_per_hour']:.4f}, "
                    f"{r['evictions']} evictions (quiet window {r['quiet_seconds']:.0f} s)"
                )
                fleet = ", ".join(f"{k} × {v}" for k, v in r["shapes"].items())
                fleets.append(f"- {label}, {LABELS[c]}, run {i}: {fleet or 'no nodes'}")
            if runs:
                every_run.append(f"| {label} | {LABELS[c]} | " + " · ".join(runs) + " |")
    out += ["", "## Goal (issue 26)", ""] + (goals or ["- no size has both results yet"])
    out += ["", "## Every run", "", "| pods | controller | runs |", "|---|---|---|"]
    out += every_run or ["| – | – | none yet |"]
    out += ["", "## Final fleets (instance type / capacity type / zone)", ""] + (fleets or ["- none"])
    notes_path = os.path.join(a.raw, "notes.txt")
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            notes = [l.strip() for l in f if l.strip()]
        if notes:
            out += ["", "## Notes", ""] + [f"- {l}" for l in notes]
    print("\n".join(out))


if __name__ == "__main__":
    main()
