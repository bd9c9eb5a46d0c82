//! The fleet as `kerf top` shows it: [`fleet_view`] is a pure function from a
//! [`Snapshot`] of Nodes, Pods and NodeClaims (and the clock read once by the
//! caller) plus the instance catalogue to one [`NodeRow`] per node and the
//! [`Totals`]. The terminal UI and `--once` only render what it returns.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_cloud::Catalog;
use kerf_core::resources::Resources;
use kerf_sim::Timestamp;

/// Hours in the month `$/month` is quoted for (as AWS's pricing pages do).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// What the watches hold at one moment, and that moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub nodes: Vec<Arc<Node>>,
    pub pods: Vec<Arc<Pod>>,
    pub claims: Vec<Arc<NodeClaim>>,
    pub now: Timestamp,
}

/// The order of the rows. Cycled in the TUI in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Most expensive first (unpriced nodes last).
    #[default]
    Price,
    /// Newest first.
    Age,
    /// Highest CPU requested/allocatable first.
    Cpu,
    /// Highest memory requested/allocatable first.
    Memory,
    /// Most pods first.
    Pods,
    /// By node name.
    Name,
}

impl SortKey {
    /// The next key, the last wrapping to the first.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Price => SortKey::Age,
            SortKey::Age => SortKey::Cpu,
            SortKey::Cpu => SortKey::Memory,
            SortKey::Memory => SortKey::Pods,
            SortKey::Pods => SortKey::Name,
            SortKey::Name => SortKey::Price,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Price => "price",
            SortKey::Age => "age",
            SortKey::Cpu => "cpu",
            SortKey::Memory => "memory",
            SortKey::Pods => "pods",
            SortKey::Name => "name",
        }
    }
}

/// How the view is cut: the row order, and the pools shown (all when empty).
#[derive(Clone, Debug, Default)]
pub struct ViewOptions {
    pub sort: SortKey,
    pub pools: Vec<String>,
}

/// A resource's requests on a node against its allocatable, in milli-units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub requested: i64,
    pub allocatable: i64,
}

impl Usage {
    /// Requested as a percentage of allocatable; `None` when nothing is allocatable.
    pub fn percent(&self) -> Option<f64> {
        (self.allocatable > 0).then(|| self.requested as f64 * 100.0 / self.allocatable as f64)
    }

    fn add(&mut self, other: &Usage) {
        self.requested = self.requested.saturating_add(other.requested);
        self.allocatable = self.allocatable.saturating_add(other.allocatable);
    }
}

/// One node as a row.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRow {
    pub name: String,
    /// `karpenter.sh/nodepool`, else `karpenter.sh/provisioner-name`.
    pub pool: Option<String>,
    pub instance_type: Option<String>,
    pub zone: Option<String>,
    pub capacity_type: Option<String>,
    /// $/hour from the catalogue; `None` when it has no price for the node.
    pub price: Option<f64>,
    /// Seconds since the Node was created.
    pub age_seconds: Option<i64>,
    pub ready: bool,
    /// Pods bound to the node that have not finished.
    pub pods: usize,
    pub cpu: Usage,
    pub memory: Usage,
}

/// The fleet's sums, over the rows shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub nodes: usize,
    /// Nodes the catalogue has no price for (left out of the cost).
    pub unpriced: usize,
    pub per_hour: f64,
    pub per_month: f64,
    pub cpu: Usage,
    pub memory: Usage,
    /// Pods no node is bound to yet (in any pool: a pending pod has none).
    pub pending_pods: usize,
    /// NodeClaims of the shown pools without a Ready node yet.
    pub in_flight_claims: usize,
}

/// What `kerf top` shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetView {
    pub rows: Vec<NodeRow>,
    pub totals: Totals,
    /// Objects whose fields could not be read, each naming object and field;
    /// they still count, without the unreadable figure.
    pub problems: Vec<String>,
}

/// The rows and totals of `snapshot`, priced by `catalog`, cut by `options`.
pub fn fleet_view(snapshot: &Snapshot, catalog: &Catalog, options: &ViewOptions) -> FleetView {
    let mut problems = Vec::new();
    let shown = |pool: Option<&String>| {
        options.pools.is_empty() || pool.is_some_and(|p| options.pools.contains(p))
    };

    let mut on_node: BTreeMap<&str, (usize, Resources)> = BTreeMap::new();
    let mut pending_pods = 0;
    for pod in &snapshot.pods {
        if finished(pod) {
            continue;
        }
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            pending_pods += usize::from(pod.metadata.deletion_timestamp.is_none());
            continue;
        };
        let requests = kerf_core::pod::pod_requests(pod).unwrap_or_else(|(field, why)| {
            problems.push(format!("pod {}: {field}: {why}", pod_name(pod)));
            Resources::default()
        });
        let entry = on_node.entry(node).or_default();
        entry.0 += 1;
        entry.1.add(&requests);
    }

    let mut rows = Vec::new();
    let mut ready_nodes = Vec::new();
    for node in &snapshot.nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let label = |key: &str| node.metadata.labels.as_ref()?.get(key).cloned();
        let pool = label(labels::NODEPOOL).or_else(|| label(labels::PROVISIONER_NAME));
        let ready = is_ready(node);
        if ready {
            ready_nodes.push(name.clone());
        }
        if !shown(pool.as_ref()) {
            continue;
        }
        let allocatable = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .map(|a| {
                Resources::from_quantities(a).unwrap_or_else(|e| {
                    problems.push(format!(
                        "node {name}: status.allocatable[{}]: {e}",
                        e.resource
                    ));
                    Resources::default()
                })
            })
            .unwrap_or_default();
        let (pods, requested) = on_node.get(name.as_str()).cloned().unwrap_or_default();
        let instance_type = label(labels::INSTANCE_TYPE);
        let zone = label(labels::ZONE);
        let capacity_type = label(labels::CAPACITY_TYPE);
        rows.push(NodeRow {
            price: price(
                catalog,
                instance_type.as_deref(),
                capacity_type.as_deref(),
                zone.as_deref(),
            ),
            age_seconds: node
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| snapshot.now.duration_since(t.0).as_secs()),
            name,
            pool,
            instance_type,
            zone,
            capacity_type,
            ready,
            pods,
            cpu: Usage {
                requested: requested.cpu,
                allocatable: allocatable.cpu,
            },
            memory: Usage {
                requested: requested.memory,
                allocatable: allocatable.memory,
            },
        });
    }
    sort(&mut rows, options.sort);

    let in_flight_claims = snapshot
        .claims
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .filter(|c| {
            let labels = c.metadata.labels.as_ref();
            let pool = labels.and_then(|l| {
                l.get(labels::NODEPOOL)
                    .or_else(|| l.get(labels::PROVISIONER_NAME))
            });
            shown(pool)
        })
        .filter(|c| {
            let node = c.status.as_ref().and_then(|s| s.node_name.as_ref());
            !node.is_some_and(|n| ready_nodes.contains(n))
        })
        .count();

    let mut totals = Totals {
        nodes: rows.len(),
        pending_pods,
        in_flight_claims,
        ..Totals::default()
    };
    for row in &rows {
        match row.price {
            Some(p) => totals.per_hour += p,
            None => totals.unpriced += 1,
        }
        totals.cpu.add(&row.cpu);
        totals.memory.add(&row.memory);
    }
    totals.per_month = totals.per_hour * HOURS_PER_MONTH;
    FleetView {
        rows,
        totals,
        problems,
    }
}

/// The catalogue's $/hour for an instance type bought as `capacity_type`:
/// the on-demand price, or the zone's spot price. `None` when the type, the
/// capacity type or (for spot) the zone is unknown to it.
pub fn price(
    catalog: &Catalog,
    instance_type: Option<&str>,
    capacity_type: Option<&str>,
    zone: Option<&str>,
) -> Option<f64> {
    let entry = catalog.get(instance_type?)?;
    match capacity_type? {
        labels::CAPACITY_TYPE_ON_DEMAND => entry.on_demand,
        labels::CAPACITY_TYPE_SPOT => entry.spot.get(zone?).copied(),
        _ => None,
    }
}

fn sort(rows: &mut [NodeRow], key: SortKey) {
    // Highest first for the figures; None (unknown) after every value.
    fn desc<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    rows.sort_by(|a, b| {
        let by = match key {
            SortKey::Price => desc(a.price, b.price),
            // Newest first: the smallest age is the "highest" here.
            SortKey::Age => desc(a.age_seconds.map(|s| -s), b.age_seconds.map(|s| -s)),
            SortKey::Cpu => desc(a.cpu.percent(), b.cpu.percent()),
            SortKey::Memory => desc(a.memory.percent(), b.memory.percent()),
            SortKey::Pods => b.pods.cmp(&a.pods),
            SortKey::Name => Ordering::Equal,
        };
        by.then_with(|| a.name.cmp(&b.name))
    });
}

/// A pod that no longer holds its node's resources.
fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// An age as kubectl writes it: `45s`, `12m`, `3h`, `2d`.
pub fn format_age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".to_string(),
        Some(s) if s < 120 => format!("{}s", s.max(0)),
        Some(s) if s < 2 * 3600 => format!("{}m", s / 60),
        Some(s) if s < 2 * 86400 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86400),
    }
}
