#!/usr/bin/env python3
"""Markdown table of bench/controller-head-to-head.sh's raw results.

    h2h_table.py RAW_DIR --sizes "1000 5000" --machine ... --date ... --versions ... --command ...

RAW_DIR holds <controller>-<pods>.json (one JSON object from the controller_h2h example)
and, for a failed run, <controller>-<pods>.log; notes.txt lines are appended as notes.
"""

import argparse
import json
import os

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
CONTROLLERS = ["upstream", "kerf"]


def load(raw, controller, pods):
    path = os.path.join(raw, f"{controller}-{pods}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    if os.path.exists(os.path.join(raw, f"{controller}-{pods}.log")):
        return "failed"
    return None


def cell(result, key, fmt):
    if result is None:
        return "not run"
    if result == "failed":
        return "failed"
    return fmt.format(result[key])


def ratio(up, kerf, key):
    if not isinstance(up, dict) or not isinstance(kerf, dict):
        return "–"
    if up[key] == 0:
        return "–"
    return f"{kerf[key] / up[key]:.2f}×"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("raw")
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
        "control plane per run; upstream first, then kerf, for each size. Same NodePool (linux, amd64, "
        "spot or on-demand, consolidation off) and the same 144 instance types, prices and 4 zones "
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
    for n in sizes:
        results = {c: load(a.raw, c, n) for c in CONTROLLERS}
        for c in CONTROLLERS:
            out.append("| " + " | ".join([f"{n:,}", c] + [cell(results[c], k, f) for k, _, f in FIGURES]) + " |")
        up, kerf = results["upstream"], results["kerf"]
        out.append("| " + " | ".join([f"{n:,}", "**kerf / upstream**"] + [ratio(up, kerf, k) for k, _, _ in FIGURES]) + " |")
        if isinstance(up, dict) and isinstance(kerf, dict):
            worse = [h for k, h, _ in FIGURES if kerf[k] > up[k] + 1e-9]
            rss = kerf["peak_rss_mib"] / up["peak_rss_mib"] if up["peak_rss_mib"] else float("inf")
            goals.append(
                f"- {n:,} pods: kerf ≤ upstream on every figure: "
                + ("**yes**" if not worse else "**no** (higher: " + ", ".join(worse) + ")")
                + f"; kerf RSS = {rss:.2f} × upstream's (goal ≤ 0.25: {'**met**' if rss <= 0.25 else '**not met**'})."
            )
        for c in CONTROLLERS:
            r = results[c]
            if isinstance(r, dict):
                fleet = ", ".join(f"{k} × {v}" for k, v in r["shapes"].items())
                shapes.append(f"- {n:,} pods, {c}: {fleet or 'no nodes'} (startup to ready {r['startup_seconds']:.1f} s)")
    out += ["", "## Goals (issue 6, part 3)", ""] + (goals or ["- no size has both results yet"])
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
