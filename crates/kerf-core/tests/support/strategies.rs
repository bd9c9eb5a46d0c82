//! Proptest strategies over the descriptions, and plain workloads.

use super::*;

pub(super) fn maybe<T: std::fmt::Debug + Clone>(
    p: f64,
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(p, s)
}

pub(super) fn flag(p: f64) -> impl Strategy<Value = bool> {
    prop::bool::weighted(p)
}

pub fn arb_template() -> impl Strategy<Value = TemplateDesc> {
    (
        0u8..3,
        prop_oneof![4 => Just(0u8), 1 => 1u8..4],
        prop_oneof![2 => Just(0u8), 1 => 1u8..3],
        0u8..4,
        prop_oneof![2 => Just(7u8), 1 => 1u8..7],
        0u8..4,
        flag(0.2),
        maybe(0.3, 0u8..8),
        maybe(0.25, 0u8..4),
    )
        .prop_map(
            |(weight, taint, arch, capacity, zones, family, team, cpu_limit, node_limit)| {
                TemplateDesc {
                    weight,
                    taint,
                    arch,
                    capacity,
                    zones,
                    family,
                    team,
                    cpu_limit,
                    node_limit,
                }
            },
        )
}

pub fn arb_bound_pod() -> impl Strategy<Value = BoundPodDesc> {
    (0u8..8, 0u8..4, 0u8..5, flag(0.2), flag(0.15), flag(0.1)).prop_map(
        |(app, cpu, mem, anti, host_port, terminal)| BoundPodDesc {
            app,
            cpu,
            mem,
            anti,
            host_port,
            terminal,
        },
    )
}

pub fn arb_node() -> impl Strategy<Value = NodeDesc> {
    (
        0u8..9,
        0u8..3,
        any::<bool>(),
        flag(0.15),
        flag(0.15),
        flag(0.08),
        flag(0.08),
        flag(0.2),
        maybe(0.4, 0u8..3),
        prop_oneof![6 => Just(0u8), 1 => 1u8..3],
        prop::collection::vec(arb_bound_pod(), 0..=3),
    )
        .prop_map(
            |(
                type_idx,
                zone,
                spot,
                taint,
                team,
                cordoned,
                deleting,
                in_flight,
                pool,
                unlabelled,
                pods,
            )| NodeDesc {
                type_idx,
                zone,
                spot,
                taint,
                team,
                cordoned,
                deleting,
                in_flight,
                pool,
                unlabelled,
                pods,
            },
        )
}

pub fn arb_daemon() -> impl Strategy<Value = DaemonDesc> {
    (0u8..3, flag(0.3), flag(0.3)).prop_map(|(cpu, arm_only, tolerate_all)| DaemonDesc {
        cpu,
        arm_only,
        tolerate_all,
    })
}

pub fn arb_expr() -> impl Strategy<Value = ExprDesc> {
    (0u8..6, 0u8..6, 1u8..32).prop_map(|(key, op, values)| ExprDesc { key, op, values })
}

pub fn arb_aff() -> impl Strategy<Value = AffDesc> {
    (
        prop_oneof![2 => Just(0u8), 1 => 1u8..6],
        0u8..3,
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
    )
        .prop_map(|(target, key, namespaces)| AffDesc {
            target,
            key,
            namespaces,
        })
}

pub fn arb_spread() -> impl Strategy<Value = SpreadDesc> {
    (
        0u8..3,
        0u8..3,
        flag(0.7),
        maybe(0.25, 0u8..4),
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
        flag(0.2),
    )
        .prop_map(
            |(
                key,
                max_skew,
                hard,
                min_domains,
                affinity_policy,
                taints_policy,
                match_label_keys,
            )| SpreadDesc {
                key,
                max_skew,
                hard,
                min_domains,
                affinity_policy,
                taints_policy,
                match_label_keys,
            },
        )
}

pub fn arb_app() -> impl Strategy<Value = AppDesc> {
    let resources = (
        1u8..=5,
        flag(0.2),
        0u8..6,
        0u8..6,
        flag(0.2),
        maybe(0.2, 0u8..6),
        flag(0.2),
        flag(0.15),
        maybe(0.15, 0u8..3),
        flag(0.05),
        flag(0.1),
    );
    let placement = (
        maybe(0.2, (0u8..5, 0u8..5)),
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(prop::collection::vec(arb_expr(), 1..=2), 1..=2)],
        prop::collection::vec((0u8..100, arb_expr()), 0..=2),
        prop_oneof![3 => Just(0u8), 1 => 1u8..5],
        maybe(0.15, (0u8..2, any::<bool>(), flag(0.3))),
    );
    let topology = (
        maybe(0.15, arb_aff()),
        maybe(0.2, arb_aff()),
        maybe(0.1, arb_aff()),
        maybe(0.1, arb_aff()),
        prop::collection::vec(arb_spread(), 0..=2),
        prop_oneof![4 => Just(0u8), 1 => 1u8..4],
        0u8..3,
        flag(0.2),
    );
    (resources, placement, topology).prop_map(
        |(
            (
                replicas,
                other_namespace,
                cpu,
                mem,
                second_container,
                init,
                sidecar,
                overhead,
                ephemeral,
                gpu,
                limits_only,
            ),
            (node_selector, required, preferred, toleration, host_port),
            (
                affinity,
                anti_affinity,
                preferred_affinity,
                preferred_anti_affinity,
                spread,
                volume,
                volume_zone,
                versioned,
            ),
        )| AppDesc {
            replicas,
            other_namespace,
            cpu,
            mem,
            second_container,
            init,
            sidecar,
            overhead,
            ephemeral,
            gpu,
            limits_only,
            node_selector,
            required,
            preferred,
            toleration,
            host_port,
            affinity,
            anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            spread,
            volume,
            volume_zone,
            versioned,
        },
    )
}

pub fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(arb_template(), 1..=3),
        prop::collection::vec(arb_node(), 0..=3),
        prop::collection::vec(arb_daemon(), 0..=2),
        prop::collection::vec(arb_app(), 1..=6),
    )
        .prop_map(|(templates, nodes, daemons, apps)| Case {
            templates,
            nodes,
            daemons,
            apps,
        })
}

/// Plain pods (cpu and memory only) that each fit the largest instance type.
pub fn arb_plain_workload() -> impl Strategy<Value = Vec<(u32, u32)>> {
    // (cpu milli, memory MiB): the largest type keeps 7920m and 31.75Gi for pods.
    prop::collection::vec((1u32..=7_900, 1u32..=32_000), 1..=40)
}

pub fn plain_snapshot(workload: &[(u32, u32)]) -> Snapshot {
    let catalogue = catalogue();
    let template = TemplateDesc {
        weight: 0,
        taint: 0,
        arch: 0,
        capacity: 0,
        zones: 7,
        family: 0,
        team: false,
        cpu_limit: None,
        node_limit: None,
    };
    let pending = workload
        .iter()
        .enumerate()
        .map(|(i, (cpu, mib))| {
            serde_json::from_value::<Pod>(json!({
                "metadata": {"name": format!("plain-{i}"), "namespace": "default"},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": format!("{cpu}m"), "memory": format!("{mib}Mi")}}}]},
            }))
            .expect("plain pod")
        })
        .map(std::sync::Arc::new)
        .collect();
    Snapshot {
        pending,
        templates: vec![template.build(0, &catalogue)],
        ..Default::default()
    }
}
