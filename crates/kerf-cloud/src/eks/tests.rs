//! EKS allocatable checked against published EKS max-pods figures and
//! Karpenter's formula worked by hand.

use super::*;

const MI: i64 = MIB * MILLI;

fn shape(vcpu: i64, memory_gib: i64, enis: i64, ips: i64) -> Shape {
    Shape::new(vcpu, memory_gib * 1024, Arch::Amd64).with_eni(enis, ips)
}

fn m5_large() -> Shape {
    shape(2, 8, 3, 10)
}

fn m5_2xlarge() -> Shape {
    shape(8, 32, 4, 15)
}

fn alloc(shape: &Shape, kubelet: &KubeletSettings) -> Allocation {
    allocation(shape, kubelet, &EksOptions::default()).expect("valid settings")
}

#[test]
fn max_pods_match_eni_max_pods_txt() {
    // (name, vCPU, GiB, ENIs, IPv4 per ENI, pods in the EKS AMI's eni-max-pods.txt)
    let cases = [
        ("m5.large", 2, 8, 3, 10, 29),
        ("m5.xlarge", 4, 16, 4, 15, 58),
        ("m5.2xlarge", 8, 32, 4, 15, 58),
        ("m5.4xlarge", 16, 64, 8, 30, 234),
        ("c5.large", 2, 4, 3, 10, 29),
        ("t3.medium", 2, 4, 3, 6, 17),
        ("t3.small", 2, 2, 3, 4, 11),
        ("m5.24xlarge", 96, 384, 15, 50, 737),
    ];
    for (name, vcpu, gib, enis, ips, want) in cases {
        let s = shape(vcpu, gib, enis, ips);
        assert_eq!(max_pods(&s, &KubeletSettings::default(), 0), want, "{name}");
        assert_eq!(
            alloc(&s, &KubeletSettings::default()).capacity.pods,
            want * MILLI,
            "{name}"
        );
    }
}

#[test]
fn max_pods_overrides_and_caps() {
    let kubelet = |max_pods, pods_per_core| KubeletSettings {
        max_pods,
        pods_per_core,
        ..Default::default()
    };
    assert_eq!(max_pods(&m5_large(), &kubelet(Some(110), None), 0), 110);
    // podsPerCore caps: 10 × 2 vCPU = 20 < 29.
    assert_eq!(max_pods(&m5_large(), &kubelet(None, Some(10)), 0), 20);
    assert_eq!(
        max_pods(&m5_large(), &kubelet(Some(110), Some(100)), 0),
        110
    );
    assert_eq!(
        max_pods(&m5_large(), &kubelet(None, Some(0)), 0),
        29,
        "0 disables podsPerCore"
    );
    // Unknown ENI data: the kubelet default.
    assert_eq!(
        max_pods(&Shape::new(2, 8192, Arch::Amd64), &kubelet(None, None), 0),
        110
    );
    // One reserved ENI on m5.large: 2 × 9 + 2.
    assert_eq!(max_pods(&m5_large(), &kubelet(None, None), 1), 20);
    assert_eq!(eni_limited_pods(&m5_large(), 3), Some(0));
}

#[test]
fn m5_large_allocatable_by_hand() {
    // capacity memory: 8192Mi − ceil(8192 × 0.075 = 614.4) = 7577Mi
    // kube-reserved: cpu 6% of core 1 (60m) + 1% of core 2 (10m) = 70m;
    //                memory 11Mi × 29 pods + 255Mi = 574Mi; ephemeral 1Gi
    // eviction: memory 100Mi; nodefs 10% of 20Gi = 2Gi
    let a = alloc(&m5_large(), &KubeletSettings::default());
    assert_eq!(a.capacity.cpu, 2000);
    assert_eq!(a.capacity.memory, 7577 * MI);
    assert_eq!(a.capacity.ephemeral_storage, 20 * GIB * MILLI);
    assert_eq!(a.overhead.kube_reserved.cpu, 70);
    assert_eq!(a.overhead.kube_reserved.memory, 574 * MI);
    assert_eq!(a.overhead.kube_reserved.ephemeral_storage, GIB * MILLI);
    assert!(a.overhead.system_reserved.is_zero());
    assert_eq!(a.overhead.eviction_threshold.memory, 100 * MI);
    assert_eq!(
        a.overhead.eviction_threshold.ephemeral_storage,
        2 * GIB * MILLI
    );
    let alloc = a.allocatable();
    assert_eq!(alloc.cpu, 1930);
    assert_eq!(alloc.memory, (7577 - 574 - 100) * MI); // 6903Mi
    assert_eq!(alloc.ephemeral_storage, 17 * GIB * MILLI);
    assert_eq!(alloc.pods, 29 * MILLI);
}

#[test]
fn m5_2xlarge_allocatable_by_hand() {
    // kube-reserved cpu: 60m (core 1, 6%) + 10m (core 2, 1%) + 10m (cores 3–4:
    // 2000m × 0.5%) + 10m (cores 5–8: 4000m × 0.25%) = 90m → 7910m allocatable.
    // memory: 32768Mi − ceil(2457.6) = 30310Mi; kube-reserved 11 × 58 + 255 = 893Mi;
    // eviction 100Mi → 29317Mi allocatable.
    let a = alloc(&m5_2xlarge(), &KubeletSettings::default());
    assert_eq!(a.overhead.kube_reserved.cpu, 90);
    assert_eq!(a.capacity.memory, 30310 * MI);
    assert_eq!(a.overhead.kube_reserved.memory, 893 * MI);
    let alloc = a.allocatable();
    assert_eq!(alloc.cpu, 7910);
    assert_eq!(alloc.memory, 29317 * MI);
    assert_eq!(alloc.pods, 58 * MILLI);
}

#[test]
fn cpu_tiers() {
    let cases = [
        (1, 60),
        (2, 70),
        (4, 80),
        (8, 90),
        (16, 110),
        (48, 190),
        (96, 310),
    ];
    for (vcpu, want) in cases {
        assert_eq!(kube_reserved_cpu_milli(vcpu), want, "{vcpu} vCPU");
    }
}

#[test]
fn memory_overhead_rounding() {
    assert_eq!(memory_capacity_mib(8192, Arch::Amd64, 0.075), 7577);
    assert_eq!(memory_capacity_mib(1024, Arch::Amd64, 0.075), 947);
    // Graviton: 64Mi CMA first, then ceil(8128 × 0.075 = 609.6) = 610.
    assert_eq!(memory_capacity_mib(8192, Arch::Arm64, 0.075), 7518);
    assert_eq!(memory_capacity_mib(8192, Arch::Amd64, 0.0), 8192);
}

#[test]
fn max_pods_drive_memory_reservation() {
    let kubelet = KubeletSettings {
        max_pods: Some(110),
        ..Default::default()
    };
    // AL2/AL2023: still sized from the ENI-limited 29 pods.
    assert_eq!(
        alloc(&m5_large(), &kubelet).overhead.kube_reserved.memory,
        574 * MI
    );
    // Bottlerocket-style: from the actual max pods, 11 × 110 + 255 = 1465Mi.
    let opts = EksOptions {
        eni_limited_memory_overhead: false,
        ..Default::default()
    };
    let a = allocation(&m5_large(), &kubelet, &opts).expect("valid");
    assert_eq!(a.overhead.kube_reserved.memory, 1465 * MI);
    assert_eq!(a.capacity.pods, 110 * MILLI);
}

#[test]
fn reservation_overrides_replace_defaults_per_key() {
    let kubelet = KubeletSettings {
        kube_reserved: [("cpu".to_string(), 500), ("pid".to_string(), 100_000)]
            .into_iter()
            .collect(),
        system_reserved: [("memory".to_string(), GIB * MILLI)].into_iter().collect(),
        ..Default::default()
    };
    let a = alloc(&m5_large(), &kubelet);
    assert_eq!(a.overhead.kube_reserved.cpu, 500);
    assert_eq!(
        a.overhead.kube_reserved.memory,
        574 * MI,
        "memory keeps its default"
    );
    assert!(
        a.overhead.kube_reserved.extended.is_empty(),
        "pid is not a node resource"
    );
    assert_eq!(a.overhead.system_reserved.memory, GIB * MILLI);
    assert_eq!(a.allocatable().cpu, 1500);
}

#[test]
fn eviction_takes_max_of_hard_and_soft() {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let kubelet = KubeletSettings {
        eviction_hard: map(&[("memory.available", "500Mi")]),
        eviction_soft: map(&[("memory.available", "1Gi"), ("nodefs.available", "15%")]),
        ..Default::default()
    };
    let t = alloc(&m5_large(), &kubelet).overhead.eviction_threshold;
    assert_eq!(t.memory, GIB * MILLI);
    // ceil(20Gi / 100 × 15) bytes.
    assert_eq!(t.ephemeral_storage, 3_221_225_472 * MILLI);

    let only_memory = KubeletSettings {
        eviction_hard: map(&[("memory.available", "5%")]),
        ..Default::default()
    };
    let t = alloc(&m5_large(), &only_memory).overhead.eviction_threshold;
    assert_eq!(t.memory, ((7577 * MIB) as f64 * 0.05).ceil() as i64 * MILLI);
    assert_eq!(
        t.ephemeral_storage,
        2 * GIB * MILLI,
        "nodefs keeps its 10% default"
    );

    let disabled = KubeletSettings {
        eviction_hard: map(&[("nodefs.available", "100%")]),
        ..Default::default()
    };
    assert_eq!(
        alloc(&m5_large(), &disabled)
            .overhead
            .eviction_threshold
            .ephemeral_storage,
        0
    );
}

#[test]
fn bad_eviction_value_is_an_error_not_a_panic() {
    let kubelet = KubeletSettings {
        eviction_soft: [("memory.available".to_string(), "lots%".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let err = allocation(&m5_large(), &kubelet, &EksOptions::default()).expect_err("invalid");
    assert_eq!(err.setting, "evictionSoft");
    assert_eq!(err.signal, "memory.available");
    assert!(err.to_string().contains("lots%"), "{err}");
    let over = KubeletSettings {
        eviction_hard: [("nodefs.available".to_string(), "120%".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    assert!(allocation(&m5_large(), &over, &EksOptions::default()).is_err());
}

#[test]
fn accelerators_become_extended_resources() {
    let gpu = Gpu {
        count: 4,
        name: "A10G".into(),
        manufacturer: "NVIDIA".into(),
        memory_mib: 24576,
        devices: None,
    };
    let s = shape(48, 192, 15, 50).with_gpu(gpu);
    let a = alloc(&s, &KubeletSettings::default());
    assert_eq!(a.capacity.get(RESOURCE_NVIDIA_GPU), 4 * MILLI);
    assert_eq!(a.allocatable().get(RESOURCE_NVIDIA_GPU), 4 * MILLI);
    let amd = Gpu {
        count: 1,
        name: "Radeon Pro V520".into(),
        manufacturer: "AMD".into(),
        memory_mib: 8192,
        devices: None,
    };
    assert_eq!(
        alloc(&m5_large().with_gpu(amd), &KubeletSettings::default())
            .capacity
            .get(RESOURCE_AMD_GPU),
        MILLI
    );
    let mut inf = m5_large();
    inf.neuron_count = 2;
    assert_eq!(
        alloc(&inf, &KubeletSettings::default())
            .capacity
            .get(RESOURCE_AWS_NEURON),
        2 * MILLI
    );
    assert!(
        alloc(&m5_large(), &KubeletSettings::default())
            .capacity
            .extended
            .is_empty()
    );
}
