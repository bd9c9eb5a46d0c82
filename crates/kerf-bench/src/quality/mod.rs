//! The cost-quality suite: realistic pod mixes ([`mixes`]) on the built-in
//! EC2-shaped catalogue, planned through the path `kerf simulate` takes
//! (`kerf_state::provision` against `kerf_cloud::InMemoryCloud`, i.e.
//! snapshot → `kerf_core::scheduler::solve`), and kerf's $/h set against
//! lower bounds ([`bounds`], [`patterns`], [`zonal`]) and a first-fit-decreasing
//! baseline ([`ffd`]),
//! all computed from the same snapshot ([`demand`]). [`report`] renders the
//! markdown.

pub mod bounds;
pub mod demand;
pub mod ffd;
pub mod mixes;
pub mod patterns;
pub mod report;
#[cfg(test)]
mod tests;
pub mod zonal;

use std::collections::BTreeMap;
use std::time::Instant;

use kerf_cloud::InMemoryCloud;
use kerf_core::snapshot::Snapshot;
use kerf_state::{DeterministicNames, PendingMode, ProvisionOptions};

pub use bounds::{LpBound, lp_bound, per_dimension_bound};
pub use demand::Demand;
pub use ffd::{FfdPlan, first_fit_decreasing};
pub use mixes::{MIXES, Mix};
pub use patterns::{PatternBound, pattern_bound};
pub use zonal::{SpreadGroup, ZonalBound, spread_groups, zonal_bound};

/// What the baseline bought, or why it could not plan the mix.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub cost: f64,
    pub nodes: usize,
    pub unplaced: usize,
    /// `pool/type` → nodes.
    pub types: BTreeMap<String, usize>,
}

/// One mix at one size.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub mix: Mix,
    pub pods: usize,
    pub kerf_cost: f64,
    pub kerf_nodes: usize,
    pub kerf_unschedulable: usize,
    /// `pool/type` → nodes in kerf's plan.
    pub kerf_types: BTreeMap<String, usize>,
    /// The independent plan validator's findings (none expected).
    pub validator: Vec<String>,
    /// Best wall time of `solve` on the snapshot.
    pub solve_seconds: f64,
    /// First-fit decreasing's plan, or why it has none (shared: the evaluation is cloned).
    pub ffd: Result<Baseline, std::sync::Arc<anyhow::Error>>,
    pub per_dimension: f64,
    /// The resource whose per-dimension bound is largest.
    pub binding: Option<String>,
    pub lp: LpBound,
    /// The configuration-LP bound over whole-pod node patterns.
    pub pattern: PatternBound,
    /// The bound from what zone spread forces into every zone.
    pub zonal: ZonalBound,
    /// `pool/type` → fractional nodes in the LP optimum.
    pub lp_types: BTreeMap<String, f64>,
    /// Pods no instance type can hold.
    pub impossible: usize,
}

/// The snapshot and plan `kerf simulate` would produce for the mix.
pub fn provision(mix: Mix, pods: usize, seed: u64) -> anyhow::Result<kerf_state::ProvisionOutcome> {
    let state = mixes::cluster_state(mix, pods, seed)?;
    let cloud = InMemoryCloud::builtin();
    let options = ProvisionOptions {
        pending: PendingMode::AllUnbound,
        ..Default::default()
    };
    let mut names = DeterministicNames::default();
    let outcome =
        futures::executor::block_on(kerf_state::provision(&state, &cloud, &options, &mut names))
            .map_err(|e| anyhow::anyhow!("{mix} × {pods}: {e}"))?;
    if !outcome.problems.is_empty() {
        return Err(anyhow::anyhow!(
            "{mix} × {pods}: {}",
            outcome.problems.join("; ")
        ));
    }
    Ok(outcome)
}

/// A snapshot's demand and its bounds.
#[derive(Clone, Debug)]
pub struct Judged {
    pub demand: Demand,
    pub per_dimension: f64,
    /// The resource whose per-dimension bound is largest.
    pub binding: Option<String>,
    pub lp: LpBound,
    pub pattern: PatternBound,
    pub zonal: ZonalBound,
}

/// Demand and bounds for a snapshot. Fails if the LP bound falls below the
/// per-dimension bound, which would mean one of them is wrong.
pub fn judge(snapshot: &Snapshot) -> anyhow::Result<Judged> {
    let demand = Demand::from_snapshot(snapshot)?;
    let (per_dimension, binding) = per_dimension_bound(&demand);
    let lp = lp_bound(&demand)?;
    if lp.cost < per_dimension * (1.0 - 1e-6) - 1e-9 {
        return Err(anyhow::anyhow!(
            "LP bound {:.4} is below the per-dimension bound {per_dimension:.4}",
            lp.cost
        ));
    }
    let pattern = pattern_bound(&demand)?;
    let zonal = zonal_bound(&demand, snapshot.nodes.len());
    // The configuration LP's optimum (at most cost / (1 - gap)) cannot be
    // below the LP that lets pods split.
    let optimum_at_most = pattern.cost / (1.0 - pattern.gap).max(1e-9);
    if optimum_at_most < lp.cost * (1.0 - 1e-6) - 1e-9 {
        return Err(anyhow::anyhow!(
            "pattern bound {:.4} (gap {:.4}) is below the LP bound {:.4}",
            pattern.cost,
            pattern.gap,
            lp.cost
        ));
    }
    Ok(Judged {
        demand,
        per_dimension,
        binding,
        lp,
        pattern,
        zonal,
    })
}

impl Evaluation {
    /// The tightest of the bounds.
    pub fn best_bound(&self) -> f64 {
        self.lp
            .cost
            .max(self.pattern.cost)
            .max(self.per_dimension)
            .max(self.zonal.cost)
    }
}

fn label(demand: &Demand, choice: usize) -> String {
    let c = &demand.choices[choice];
    format!("{}/{}", c.pool, c.instance_type)
}

/// Plans the mix, times `solve` (best of `runs`), and computes bounds and baseline.
pub fn evaluate(mix: Mix, pods: usize, seed: u64, runs: usize) -> anyhow::Result<Evaluation> {
    let outcome = provision(mix, pods, seed)?;
    let mut solve_seconds = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let plan = kerf_core::scheduler::solve(&outcome.snapshot);
        solve_seconds = solve_seconds.min(start.elapsed().as_secs_f64());
        std::hint::black_box(plan);
    }
    let plan = &outcome.plan;
    let Judged {
        demand,
        per_dimension,
        binding,
        lp,
        pattern,
        zonal,
    } = judge(&outcome.snapshot)?;
    let mut kerf_types = BTreeMap::new();
    for n in &plan.new_nodes {
        *kerf_types
            .entry(format!("{}/{}", n.pool.name, n.chosen.instance_type))
            .or_insert(0) += 1;
    }
    let ffd = first_fit_decreasing(&demand).map(|f| {
        let mut types = BTreeMap::new();
        for n in &f.nodes {
            *types.entry(label(&demand, n.choice)).or_insert(0) += 1;
        }
        Baseline {
            cost: f.cost(),
            nodes: f.nodes.len(),
            unplaced: f.unplaced.len(),
            types,
        }
    });
    let mut lp_types = BTreeMap::new();
    for &(c, x) in &lp.nodes {
        *lp_types.entry(label(&demand, c)).or_insert(0.0) += x;
    }
    Ok(Evaluation {
        mix,
        pods,
        kerf_cost: plan.new_cost_per_hour(),
        kerf_nodes: plan.new_nodes.len(),
        kerf_unschedulable: plan.unschedulable.len(),
        kerf_types,
        validator: kerf_core::validate::validate(&outcome.snapshot, plan)
            .into_iter()
            .map(|v| v.to_string())
            .collect(),
        solve_seconds,
        ffd: ffd.map_err(std::sync::Arc::new),
        per_dimension,
        binding,
        lp,
        pattern,
        zonal,
        lp_types,
        impossible: demand.impossible.len(),
    })
}
