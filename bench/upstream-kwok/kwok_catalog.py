#!/usr/bin/env python3
"""Convert upstream Karpenter's kwok instance types (kwok/cloudprovider/instance_types.json)
into a kerf catalogue (the schema in crates/kerf-cloud/catalog/aws-us-east-1.yaml), so that
`kerf controller --cloud-provider kwok --catalog FILE` launches from the same types, prices
and zones as upstream's kwok build.

    kwok_catalog.py instance_types.json > catalog.json

- name, arch, os and cpu/memory are taken as they are; the pod limit is written as one ENI
  with pods-1 IPv4 addresses (kerf's pod count is ENIs x (IPv4 per ENI - 1) + 2).
- category and family are what upstream's kwok provider derives from the name (the part
  before the first '.' or '-'); size is the CPU count, as upstream uses for names that are
  not EC2-shaped.
- offerings: one on-demand price (upstream's is the same in every zone; anything else is an
  error) and a spot price per zone.
"""

import json
import re
import sys

UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def mib(quantity: str, where: str) -> int:
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)", quantity)
    if not m:
        raise SystemExit(f"{where}: memory {quantity!r} is not <n>Ki|Mi|Gi|Ti")
    return int(int(m.group(1)) * UNITS[m.group(2)])


def convert(types: list) -> dict:
    zones: list = []
    out = []
    for i, t in enumerate(types):
        name = t.get("name") or f"instance_types[{i}]"
        res = t.get("resources", {})
        try:
            cpu = int(res["cpu"])
            pods = int(res.get("pods", "110"))
        except (KeyError, ValueError) as e:
            raise SystemExit(f"{name}: resources.cpu/pods: {e}")
        on_demand = set()
        spot = {}
        for o in t.get("offerings", []):
            req = {r["key"]: r["values"] for r in o.get("Requirements", [])}
            capacity = req.get("karpenter.sh/capacity-type", [None])[0]
            zone = req.get("topology.kubernetes.io/zone", [None])[0]
            if capacity is None or zone is None:
                raise SystemExit(f"{name}: offering without capacity type or zone: {o}")
            if zone not in zones:
                zones.append(zone)
            if capacity == "on-demand":
                on_demand.add(o["Price"])
            elif capacity == "spot":
                spot[zone] = o["Price"]
            else:
                raise SystemExit(f"{name}: capacity type {capacity!r} has no kerf equivalent")
        if len(on_demand) > 1:
            raise SystemExit(f"{name}: on-demand prices differ by zone ({sorted(on_demand)})")
        family = re.split(r"[.-]", name, maxsplit=1)[0] if re.search(r"[.-]", name) else name[:1]
        entry = {
            "name": name,
            "vcpu": cpu,
            "memoryMiB": mib(res["memory"], name),
            "arch": t["architecture"],
            "os": t.get("operatingSystems") or ["linux"],
            "category": family,
            "family": family,
            "size": str(cpu),
            "maxENIs": 1,
            "ipv4PerENI": pods - 1,
        }
        if on_demand:
            entry["onDemand"] = on_demand.pop()
        if spot:
            entry["spot"] = spot
        out.append(entry)
    return {"region": "kwok", "zones": zones, "instanceTypes": out}


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: kwok_catalog.py instance_types.json > catalog.json")
    with open(sys.argv[1]) as f:
        types = json.load(f)
    json.dump(convert(types), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
