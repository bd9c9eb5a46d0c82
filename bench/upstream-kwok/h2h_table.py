#!/usr/bin/env python3
"""Markdown table of bench/controller-head-to-head.sh's raw results.

    h2h_table.py RAW_DIR --sizes "1000 5000" --runs 3 --machine ... --date ... --versions ... --command ...

RAW_DIR holds <controller>-<pods>-<run>.json (one JSON object from the controller_h2h
example) and, for a failed run, <controller>-<pods>-<run>.log; notes.txt lines are appended
as notes. Each figure in the main table is the median over a controller's runs that
finished; the goals are judged on those medians.
"""

import argparse
import json
import os
import statistics

FIGURES = [
    # key, header, format, lower is better
    ("seconds_to_all_running", "scale-up → last pod Running (s)", "{:.1f}"),
    ("seconds_to_last_node_ready", "→ last node Ready (s)", "{:.1f}"),
    ("nodes_launched", "nodes launched", "{:d}"),
    ("dollars_per_hour", "fleet $/h", "{:.4f}"),
    ("peak_rss_mib", "peak RSS (MiB)", "{:.1f}"),
    ("cpu_seconds_scale_up", "CPU s (scale-up)", "{:.2f}"),
    ("cpu_seconds_total", "CPU s (whole run)", "{:.2f}"),
]
# Entrant (as named in the raw result files) -> label in the table, in table order.
# kerf as it ships leaves binding to kube-scheduler, as upstream does; the goals judge that
# entrant. kerf-bind-pods (`kerf controller --bind-pods`) is shown beside it.
LABELS = {"upstream": "upstream", "kerf": "kerf", "kerf-bind-pods": "kerf --bind-pods"}
CONTROLLERS = list(LABELS)


def load_runs(raw, controller, pods, runs, phase=None):
    """(run number, result or "failed") for each run that ran, in run order. With
    `phase`, the result is that key of the run's JSON (a run without it failed)."""
    loaded = []
    for run in range(1, runs + 1):
        path = os.path.join(raw, f"{controller}-{pods}-{run}.json")
        if os.path.exists(path):
            with open(path) as f:
                result = json.load(f)
            if phase is not None:
                result = result.get(phase) or "failed"
            loaded.append((run, result))
        elif os.path.exists(os.path.join(raw, f"{controller}-{pods}-{run}.log")):
            loaded.append((run, "failed"))
    return loaded


def median_result(loaded, figures=None):
    """One result of medians over the finished runs, "failed" when none finished, None when none ran."""
    done = [r for _, r in loaded if isinstance(r, dict)]
    if not done:
        return "failed" if loaded else None
    return {k: statistics.median(r[k] for r in done) for k, _, _ in (figures or FIGURES)}


def cell(result, key, fmt):
    if result is None:
        return "not run"
    if result == "failed":
        return "failed"
    value = result[key]
    if fmt == "{:d}" and value != int(value):
        return f"{value:.1f}"  # the median of an even number of counts
    return fmt.format(int(value) if fmt == "{:d}" else value)


def ratio(up, kerf, key):
    if not isinstance(up, dict) or not isinstance(kerf, dict):
        return "–"
    if up[key] == 0:
        return "–"
    return f"{kerf[key] / up[key]:.2f}×"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("raw")
    p.add_argument("--runs", type=int, required=True)
    for flag in ["--sizes", "--machine", "--date", "--versions", "--command", "--plane"]:
        p.add_argument(flag, required=True)
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split()]
    out = ["# Whole controller, head to head: upstream Karpenter's kwok build vs `kerf controller`", ""]
    out += [
        f"- Machine: {a.machine}",
        f"- Date: {a.date}",
        f"- Versions: {a.versions}",
        f"- Command: `{a.command}`",
        f"- Control plane: {a.plane}",
        "- Workload: a Deployment of `pause` pods (100m CPU, 128Mi each) scaled from 0 to N on a fresh "
        f"control plane per run; upstream, then kerf, then kerf with `--bind-pods`, {a.runs} times for "
        "each size (A B C A B C). Figures are the median of each controller's runs. kerf as it ships "
        "leaves binding to kube-scheduler, as upstream does, and is the entrant the goals judge; with "
        "`--bind-pods` kerf binds the pods it planned once their node is Ready (kube-scheduler still runs). "
        "Same NodePool (linux, amd64, spot or on-demand, consolidation off) and the same 144 instance types, prices and 4 zones "
        "(upstream's `kwok/cloudprovider/instance_types.json`, converted into a kerf catalogue for kerf).",
        "- Fleet $/h: the nodes standing when the last pod is Running, at the catalogue's prices. "
        "Peak RSS: the controller's VmHWM. CPU: utime + stime of the controller process, during the "
        "scale-up (scale command to last pod Running) and over its whole life (startup included).",
        "",
    ]
    header = ["pods", "controller"] + [h for _, h, _ in FIGURES]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    goals = []
    shapes = []
    every_run = []
    for n in sizes:
        loaded = {c: load_runs(a.raw, c, n, a.runs) for c in CONTROLLERS}
        results = {c: median_result(loaded[c]) for c in CONTROLLERS}
        up, kerf = results["upstream"], results["kerf"]
        for c in CONTROLLERS:
            if results[c] is None and c == "kerf-bind-pods":
                continue  # an entrant this run did not include
            out.append("| " + " | ".join([f"{n:,}", LABELS[c]] + [cell(results[c], k, f) for k, _, f in FIGURES]) + " |")
            if c != "upstream":
                label = f"**{LABELS[c]} / upstream**"
                out.append("| " + " | ".join([f"{n:,}", label] + [ratio(up, results[c], k) for k, _, _ in FIGURES]) + " |")
        if isinstance(up, dict) and isinstance(kerf, dict):
            worse = [h for k, h, _ in FIGURES if kerf[k] > up[k] + 1e-9]
            rss = kerf["peak_rss_mib"] / up["peak_rss_mib"] if up["peak_rss_mib"] else float("inf")
            goals.append(
                f"- {n:,} pods: kerf ≤ upstream on every figure: "
                + ("**yes**" if not worse else "**no** (higher: " + ", ".join(worse) + ")")
                + f"; kerf RSS = {rss:.2f} × upstream's (goal ≤ 0.25: {'**met**' if rss <= 0.25 else '**not met**'})."
            )
            bind = results["kerf-bind-pods"]
            if isinstance(bind, dict):
                goals.append(
                    f"  - with `--bind-pods` (outside the goal): last pod Running after "
                    f"{bind['seconds_to_all_running']:.1f} s against {kerf['seconds_to_all_running']:.1f} s "
                    f"when kube-scheduler binds and {up['seconds_to_all_running']:.1f} s for upstream."
                )
        for c in CONTROLLERS:
            runs = []
            for i, r in loaded[c]:
                if r == "failed":
                    runs.append(f"run {i} failed")
                    continue
                fleet = ", ".join(f"{k} × {v}" for k, v in r["shapes"].items())
                shapes.append(
                    f"- {n:,} pods, {LABELS[c]}, run {i}: {fleet or 'no nodes'} (startup to ready {r['startup_seconds']:.1f} s)"
                )
                runs.append(
                    f"{r['seconds_to_all_running']:.1f} / {r['seconds_to_last_node_ready']:.1f} s, "
                    f"{r['nodes_launched']} node{'' if r['nodes_launched'] == 1 else 's'}, "
                    f"${r['dollars_per_hour']:.4f}"
                )
            if runs:
                every_run.append(f"| {n:,} | {LABELS[c]} | " + " · ".join(runs) + " |")
    out += ["", "## Goals (issue 6, part 3)", ""] + (goals or ["- no size has both results yet"])
    out += [
        "",
        "## Every run",
        "",
        "Time to the last pod Running / to the last node Ready, nodes launched, fleet $/h, in run order.",
        "",
        "| pods | controller | runs |",
        "|---|---|---|",
    ] + (every_run or ["| – | – | none yet |"])
    out += ["", "## Fleets (instance type / capacity type / zone)", ""] + (shapes or ["- none"])
    notes_path = os.path.join(a.raw, "notes.txt")
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            notes = [l.strip() for l in f if l.strip()]
        if notes:
            out += ["", "## Notes", ""] + [f"- {l}" for l in notes]
    print("\n".join(out))


if __name__ == "__main__":
    main()
