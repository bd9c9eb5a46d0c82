#!/usr/bin/env python3
"""Writes kerf's built-in instance catalogue (aws-us-east-1.yaml) from the facts
published in a checkout of aws/karpenter-provider-aws.

Usage: generate.py UPSTREAM_CHECKOUT [OUTPUT] [--ec2-instance-types FILE]
       (OUTPUT defaults to stdout)

Reads three generated data files of that checkout (data, not code):
  website/content/en/preview/reference/instance-types.md
      every instance type with the labels Karpenter's AWS provider sets and the
      resources it advertises (AL2023, no blockDeviceMappings);
  pkg/providers/pricing/zz_generated.pricing_aws.go
      us-east-1 on-demand Linux prices;
  pkg/providers/instancetype/zz_generated.vpclimits.go
      ENI limits of the default network card (they give max pods).

--ec2-instance-types FILE is EC2 DescribeInstanceTypes output as one JSON object
keyed by type name (plain or gzipped), e.g. moto's
moto/ec2/resources/instance_types.json.gz: it gives NitroEnclavesSupport
(karpenter.k8s.aws/nitro-sandbox), which instance-types.md predates. Types it
does not list get no nitroEnclavesSupported (the label is then DoesNotExist).

A type is written when it has both a shape (instance-types.md) and an
on-demand price. Output is deterministic: the same inputs give the same bytes.
Spot prices are not published upstream; each zone's spot price is a
representative fraction of on-demand between SPOT_MIN and SPOT_MAX, drawn from
a SHA-256 of "<type>/<zone>" so it is stable and differs per zone.
amd64 types get os [linux, windows] (Karpenter offers Windows AMIs on every
amd64 type and on no arm64 type); arm64 types get [linux].
"""

import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

REGION = "us-east-1"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
SPOT_MIN = 0.31
SPOT_MAX = 0.69

TYPES_MD = "website/content/en/preview/reference/instance-types.md"
PRICING_GO = "pkg/providers/pricing/zz_generated.pricing_aws.go"
VPCLIMITS_GO = "pkg/providers/instancetype/zz_generated.vpclimits.go"

AWS = "karpenter.k8s.aws/"


class DataError(Exception):
    pass


def parse_instance_types(text):
    """{name: {"labels": {...}, "resources": {...}}} from the reference page."""
    types = {}
    current = None
    section = None
    for lineno, line in enumerate(text.splitlines(), 1):
        heading = re.match(r"^### `([^`]+)`\s*$", line)
        if heading:
            name = heading.group(1)
            if name in types:
                raise DataError(f"{TYPES_MD}:{lineno}: {name} appears twice")
            current = types[name] = {"labels": {}, "resources": {}}
            section = None
            continue
        if line.startswith("#### Labels"):
            section = "labels"
            continue
        if line.startswith("#### Resources"):
            section = "resources"
            continue
        if line.startswith("#") or current is None or section is None:
            continue
        row = re.match(r"^\s*\|([^|]*)\|([^|]*)\|\s*$", line)
        if not row:
            continue
        key, value = row.group(1).strip(), row.group(2).strip()
        if key in ("Label", "Resource", "--"):
            continue
        current[section][key] = value
    return types


def parse_prices(text):
    """{name: $/hour} of the us-east-1 block."""
    start = text.find(f'"{REGION}": {{')
    if start < 0:
        raise DataError(f"{PRICING_GO}: no {REGION} block")
    end = text.find("\n\t},", start)
    block = text[start : end if end > 0 else len(text)]
    prices = {}
    for name, price in re.findall(r'"([a-z0-9][a-z0-9-]*\.[a-z0-9-]+)": ([0-9.]+)', block):
        prices[name] = float(price)
    if not prices:
        raise DataError(f"{PRICING_GO}: no prices in the {REGION} block")
    return prices


def parse_vpc_limits(text):
    """{name: (ENIs on the default network card, IPv4 per ENI)}."""
    limits = {}
    for match in re.finditer(r'^\t"([^"]+)": \{\n(.*?)^\t\},', text, re.S | re.M):
        name, body = match.group(1), match.group(2)
        ips = re.search(r"IPv4PerInterface:\s+(\d+)", body)
        default_card = re.search(r"DefaultNetworkCardIndex:\s+(\d+)", body)
        cards = re.findall(
            r"MaximumNetworkInterfaces:\s+(\d+),\s*NetworkCardIndex:\s+(\d+)", body
        )
        if not (ips and default_card):
            continue
        enis = {int(index): int(count) for count, index in cards}
        card = enis.get(int(default_card.group(1)))
        if card is not None:
            limits[name] = (card, int(ips.group(1)))
    return limits


def spot_fraction(name, zone):
    digest = hashlib.sha256(f"{name}/{zone}".encode()).digest()
    unit = int.from_bytes(digest[:4], "big") / 2**32
    return SPOT_MIN + (SPOT_MAX - SPOT_MIN) * unit


def as_int(name, labels, key):
    value = labels.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{TYPES_MD}: {name}: label {key}={value!r} is not an integer")


def require(name, labels, key):
    if key not in labels:
        raise DataError(f"{TYPES_MD}: {name}: label {key} is missing")
    return labels[key]


def yaml_str(s):
    """A YAML scalar; quoted when empty or when YAML would read it as another type."""
    if s == "" or re.fullmatch(r"[0-9.eE+-]+|true|false|null|yes|no|on|off|~", s) or not re.fullmatch(
        r"[A-Za-z0-9._/-]+", s
    ):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def fmt_price(p):
    text = f"{p:.6f}".rstrip("0").rstrip(".")
    return text if "." in text else text + ".0"


def parse_ec2_types(path):
    """NitroEnclavesSupport of every type in a DescribeInstanceTypes dump: {name: "true"|"false"}."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    if isinstance(data, dict) and "InstanceTypes" in data:
        data = {t["InstanceType"]: t for t in data["InstanceTypes"]}
    out = {}
    for name, info in data.items():
        support = info.get("NitroEnclavesSupport")
        if support not in (None, "supported", "unsupported"):
            raise DataError(f"{path}: {name}: NitroEnclavesSupport={support!r}")
        if support is not None:
            out[name] = "true" if support == "supported" else "false"
    return out


def entry_lines(name, info, price, limits, enclaves):
    labels, res = info["labels"], info["resources"]
    arch = require(name, labels, "kubernetes.io/arch")
    if arch not in ("amd64", "arm64"):
        raise DataError(f"{TYPES_MD}: {name}: arch {arch!r} is neither amd64 nor arm64")
    out = [f"  - name: {name}"]

    def put(key, value):
        if value is not None:
            out.append(f"    {key}: {value}")

    put("vcpu", as_int(name, labels, AWS + "instance-cpu"))
    put("memoryMiB", as_int(name, labels, AWS + "instance-memory"))
    put("arch", arch)
    put("os", "[linux, windows]" if arch == "amd64" else "[linux]")
    put("category", yaml_str(require(name, labels, AWS + "instance-category")))
    put("family", yaml_str(require(name, labels, AWS + "instance-family")))
    put("generation", as_int(name, labels, AWS + "instance-generation"))
    put("size", yaml_str(require(name, labels, AWS + "instance-size")))
    put("hypervisor", yaml_str(require(name, labels, AWS + "instance-hypervisor")))
    put("cpuManufacturer", yaml_str(require(name, labels, AWS + "instance-cpu-manufacturer")))
    put("cpuSustainedClockSpeedMhz", as_int(name, labels, AWS + "instance-cpu-sustained-clock-speed-mhz"))
    put("ebsBandwidthMbps", as_int(name, labels, AWS + "instance-ebs-bandwidth"))
    eit = require(name, labels, AWS + "instance-encryption-in-transit-supported")
    if eit not in ("true", "false"):
        raise DataError(f"{TYPES_MD}: {name}: encryption-in-transit-supported={eit!r}")
    put("encryptionInTransitSupported", eit)
    put("nitroEnclavesSupported", enclaves.get(name))
    put("networkBandwidthMbps", as_int(name, labels, AWS + "instance-network-bandwidth"))
    put("localNvmeGiB", as_int(name, labels, AWS + "instance-local-nvme"))
    if AWS + "instance-gpu-count" in labels:
        count = as_int(name, labels, AWS + "instance-gpu-count")
        out.append("    gpu:")
        out.append(f"      count: {count}")
        out.append(f"      name: {yaml_str(require(name, labels, AWS + 'instance-gpu-name'))}")
        out.append(f"      manufacturer: {yaml_str(require(name, labels, AWS + 'instance-gpu-manufacturer'))}")
        out.append(f"      memoryMiB: {as_int(name, labels, AWS + 'instance-gpu-memory')}")
        devices = res.get("nvidia.com/gpu") or res.get("amd.com/gpu") or res.get("habana.ai/gaudi") or "0"
        if int(devices) != count:
            # e.g. g6f: a fraction of a GPU, which no device plugin advertises.
            out.append(f"      devices: {int(devices)}")
    if AWS + "instance-accelerator-name" in labels:
        out.append("    accelerator:")
        out.append(f"      count: {as_int(name, labels, AWS + 'instance-accelerator-count')}")
        out.append(f"      name: {yaml_str(labels[AWS + 'instance-accelerator-name'])}")
        out.append(
            f"      manufacturer: {yaml_str(require(name, labels, AWS + 'instance-accelerator-manufacturer'))}"
        )
    if "aws.amazon.com/neuron" in res:
        put("neuronCount", int(res["aws.amazon.com/neuron"]))
        put("neuronCoreCount", int(res.get("aws.amazon.com/neuroncore", "0")) or None)
    if "vpc.amazonaws.com/efa" in res:
        put("efaCount", int(res["vpc.amazonaws.com/efa"]))
    if "vpc.amazonaws.com/pod-eni" in res:
        put("podENI", int(res["vpc.amazonaws.com/pod-eni"]))
    pods = int(require(name, res, "pods"))
    eni = limits.get(name)
    if eni is not None and eni[0] * (eni[1] - 1) + 2 == pods:
        put("maxENIs", eni[0])
        put("ipv4PerENI", eni[1])
    elif pods != 110:
        put("maxPods", pods)
    put("onDemand", fmt_price(price))
    spot_prices = []
    for zone in ZONES:
        spot_price = round(price * spot_fraction(name, zone), 5)
        # Zones keep distinct prices, so zone choice is never a tie.
        while spot_price in spot_prices:
            spot_price = round(spot_price + 0.00001, 5)
        spot_prices.append(spot_price)
    spot = ", ".join(f"{z}: {fmt_price(p)}" for z, p in zip(ZONES, spot_prices))
    out.append(f"    spot: {{{spot}}}")
    return out


def sort_key(item):
    name, info = item
    labels = info["labels"]
    family = labels.get(AWS + "instance-family", name.split(".")[0])
    return (family, int(labels.get(AWS + "instance-cpu", 0)), int(labels.get(AWS + "instance-memory", 0)), name)


HEADER = """\
# kerf built-in instance catalogue: AWS us-east-1, every current EC2 instance type
# with an on-demand price ({count} types in {families} families; {windows} also run Windows).
#
# GENERATED by generate.py in this directory; do not edit by hand. To refresh:
#   python3 crates/kerf-cloud/catalog/generate.py <karpenter-provider-aws checkout> \\
#     crates/kerf-cloud/catalog/aws-us-east-1.yaml
#
# Loaded by `kerf_cloud::catalog::Catalog::builtin()` (embedded with include_str!).
# A file in the same shape (YAML, or the equivalent JSON) can be loaded with
# `Catalog::from_file(path)` to simulate another region or a custom fleet.
#
# Schema (keys are camelCase; unknown keys are an error so typos are caught).
# Each optional field, when absent, leaves its label off the type, and the
# type then has the label as DoesNotExist (as Karpenter's AWS provider does):
#
#   region: string                   region label value (topology.kubernetes.io/region)
#   zones: [string]                  zones every offering is drawn from
#   instanceTypes:                   one entry per EC2 instance type
#     - name: string                 e.g. m5.large (unique)
#       vcpu: int                    default vCPUs (> 0)            (karpenter.k8s.aws/instance-cpu)
#       memoryMiB: int               memory as EC2 reports it (> 0) (karpenter.k8s.aws/instance-memory)
#       arch: amd64 | arm64
#       os: [string]                 optional, default [linux]; amd64 types list [linux, windows]
#       category: string             c, m, r, t, g, ...   (karpenter.k8s.aws/instance-category)
#       family: string               c5, m7g, ...         (karpenter.k8s.aws/instance-family)
#       generation: int              5, 7, ...            (karpenter.k8s.aws/instance-generation)
#       size: string                 large, 2xlarge, ...  (karpenter.k8s.aws/instance-size)
#       hypervisor: string           optional: nitro | xen | "" for bare metal
#       cpuManufacturer: string      optional: intel | amd | aws (karpenter.k8s.aws/instance-cpu-manufacturer)
#       cpuSustainedClockSpeedMhz: int  optional (karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz)
#       ebsBandwidthMbps: int        optional: EBS-optimized maximum (karpenter.k8s.aws/instance-ebs-bandwidth)
#       encryptionInTransitSupported: bool  optional (karpenter.k8s.aws/instance-encryption-in-transit-supported)
#       nitroEnclavesSupported: bool optional (karpenter.k8s.aws/nitro-sandbox)
#       networkBandwidthMbps: int    optional: baseline bandwidth (karpenter.k8s.aws/instance-network-bandwidth)
#       localNvmeGiB: int            optional: instance-store NVMe total (karpenter.k8s.aws/instance-local-nvme)
#       gpu:                         optional (karpenter.k8s.aws/instance-gpu-*)
#         count: int                 GPUs per instance (may be 0 for a fractional GPU)
#         name: string               e.g. A10G (label value is lower-kebab-cased)
#         manufacturer: string       NVIDIA -> nvidia.com/gpu, AMD -> amd.com/gpu, Habana -> habana.ai/gaudi
#         memoryMiB: int             memory of one GPU
#         devices: int               optional: devices the plugin advertises when not `count`
#       accelerator:                 optional (karpenter.k8s.aws/instance-accelerator-*)
#         count: int                 e.g. 1
#         name: string               e.g. inferentia2
#         manufacturer: string       e.g. aws
#       neuronCount: int             optional: AWS Inferentia/Trainium devices (aws.amazon.com/neuron)
#       neuronCoreCount: int         optional: their NeuronCores (aws.amazon.com/neuroncore)
#       efaCount: int                optional: EFA interfaces (vpc.amazonaws.com/efa)
#       podENI: int                  optional: branch ENIs for pod security groups (vpc.amazonaws.com/pod-eni)
#       maxENIs: int                 optional: ENIs on the default network card
#       ipv4PerENI: int              optional: IPv4 addresses per ENI
#                                    (with both: max pods = maxENIs * (ipv4PerENI - 1) + 2, the EKS AMI
#                                    formula; without them maxPods, else the kubelet default of 110)
#       maxPods: int                 optional: pod limit when the ENI formula does not give it
#       onDemand: float              optional: on-demand $/hour; absent = no on-demand offerings
#       spot: {{zone: float}}          optional: spot $/hour per zone; a zone left out has no spot offering
#
# Sources (karpenter-provider-aws {commit}): labels and resources from
# website/content/en/preview/reference/instance-types.md; on-demand prices from
# pkg/providers/pricing/zz_generated.pricing_aws.go ({generated}); ENI limits
# from pkg/providers/instancetype/zz_generated.vpclimits.go; Nitro Enclaves support
# ({enclaves} types) from {enclaves_source}. Upstream publishes
# no zone availability, so every type is offered in every zone below.
# Spot prices are NOT live data: each is a representative {lo:.0%}-{hi:.0%} of
# on-demand, a fixed function of the type and zone (SHA-256 of "type/zone"), so the
# simulator can weigh spot against on-demand.
region: {region}
zones: [{zones}]
instanceTypes:
"""


def main(argv):
    argv = list(argv)
    ec2_types = None
    if "--ec2-instance-types" in argv:
        i = argv.index("--ec2-instance-types")
        if i + 1 >= len(argv):
            print("generate.py: --ec2-instance-types needs a file", file=sys.stderr)
            return 2
        ec2_types = Path(argv[i + 1])
        del argv[i : i + 2]
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    try:
        enclaves = parse_ec2_types(ec2_types) if ec2_types else {}
        types = parse_instance_types((root / TYPES_MD).read_text())
        pricing_text = (root / PRICING_GO).read_text()
        prices = parse_prices(pricing_text)
        limits = parse_vpc_limits((root / VPCLIMITS_GO).read_text())
        generated = re.search(r"generated at (\S+)", pricing_text)
        head = root / ".git" / "HEAD"
        commit = "checkout"
        if head.exists():
            ref = head.read_text().strip()
            if ref.startswith("ref: "):
                ref_file = root / ".git" / ref[5:]
                ref = ref_file.read_text().strip() if ref_file.exists() else ref[5:]
            commit = ref[:12]
        chosen = sorted(((n, i) for n, i in types.items() if n in prices), key=sort_key)
        body = []
        family = None
        for name, info in chosen:
            fam = info["labels"].get(AWS + "instance-family")
            if fam != family:
                family = fam
                body.append(f"  # --- {fam} ---")
            body.extend(entry_lines(name, info, prices[name], limits, enclaves))
    except (OSError, DataError, ValueError) as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 1
    windows = sum(1 for _, i in chosen if i["labels"].get("kubernetes.io/arch") == "amd64")
    families = len({i["labels"].get(AWS + "instance-family") for _, i in chosen})
    text = HEADER.format(
        count=len(chosen),
        families=families,
        windows=windows,
        commit=commit,
        generated=generated.group(1) if generated else "undated",
        lo=SPOT_MIN,
        hi=SPOT_MAX,
        region=REGION,
        zones=", ".join(ZONES),
        enclaves=sum(1 for n, _ in chosen if n in enclaves),
        enclaves_source=f"EC2 DescribeInstanceTypes ({ec2_types.name})" if ec2_types else "nowhere",
    ) + "\n".join(body) + "\n"
    skipped = sorted(set(prices) - set(types))
    if skipped:
        print(f"priced but without a shape upstream (left out): {' '.join(skipped)}", file=sys.stderr)
    if len(argv) == 3:
        Path(argv[2]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
