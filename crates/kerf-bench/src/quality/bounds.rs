//! Lower bounds on the $/h of any plan for a [`Demand`].
//!
//! - [`per_dimension_bound`]: for each resource d, every pod's request of d
//!   must be bought on some node it may use, at no less than the cheapest
//!   $/unit of allocatable d among its choices; the largest such sum over d.
//! - [`lp_bound`]: the LP relaxation over instance types — fractional node
//!   counts `x_c ≥ 0` per choice, minimising `Σ price_c·x_c` such that every
//!   resource's demand is covered by allocatable. Pods are grouped into
//!   classes by the choices they may use, and each class's demand of each
//!   resource may be spread over its choices freely (`w_{k,c,d}`), so nodes
//!   are shared between classes as a real plan shares them; with one class it
//!   is exactly `Σ_c alloc_{c,d}·x_c ≥ demand_d` for every d. Any plan gives a
//!   feasible point (its node counts, and each class's requests on each
//!   type), so the optimum is a bound; and it is never below the
//!   per-dimension bound (each d's constraint alone already implies it).

use std::collections::BTreeMap;

use good_lp::{
    Expression, ProblemVariables, Solution, SolverModel, Variable, constraint, microlp, variable,
};

use super::demand::Demand;

/// Whether `r` has a positive amount of `d`.
fn amount(r: &kerf_core::resources::Resources, d: &str) -> f64 {
    r.get(d) as f64
}

/// The per-dimension bound (see the module doc), and the resource that binds.
pub fn per_dimension_bound(demand: &Demand) -> (f64, Option<String>) {
    let mut best = (0.0, None);
    for d in demand.dimensions() {
        let mut total = 0.0;
        for p in &demand.pods {
            let need = amount(&p.info.requests, &d);
            if need <= 0.0 {
                continue;
            }
            let rate = p
                .allowed
                .iter()
                .map(|&c| &demand.choices[c])
                .filter(|c| amount(&c.allocatable, &d) > 0.0)
                .map(|c| c.price / amount(&c.allocatable, &d))
                .fold(f64::INFINITY, f64::min);
            total += need * rate;
        }
        if total > best.0 {
            best = (total, Some(d));
        }
    }
    best
}

/// The LP optimum and the fractional node counts it buys, per choice index.
#[derive(Clone, Debug, Default)]
pub struct LpBound {
    pub cost: f64,
    /// (index into `demand.choices`, x) for every x > 1e-9.
    pub nodes: Vec<(usize, f64)>,
}

/// The LP relaxation bound (see the module doc), solved with `good_lp`'s
/// pure-Rust `microlp` backend.
pub fn lp_bound(demand: &Demand) -> anyhow::Result<LpBound> {
    if demand.pods.is_empty() {
        return Ok(LpBound::default());
    }
    let dims = demand.dimensions();
    let scale = demand.scale(&dims);
    let mut classes: BTreeMap<&[usize], Vec<f64>> = BTreeMap::new();
    for p in &demand.pods {
        let need = classes
            .entry(p.allowed.as_slice())
            .or_insert_with(|| vec![0.0; dims.len()]);
        for (i, d) in dims.iter().enumerate() {
            need[i] += amount(&p.info.requests, d) / scale[i];
        }
    }

    let mut vars = ProblemVariables::new();
    let mut x: BTreeMap<usize, Variable> = BTreeMap::new();
    for allowed in classes.keys() {
        for &c in *allowed {
            x.entry(c).or_insert_with(|| vars.add(variable().min(0.0)));
        }
    }
    // supply[(c, d)]: the class shares of resource d placed on choice c.
    let mut supply: BTreeMap<(usize, usize), Expression> = BTreeMap::new();
    let mut cover = Vec::new();
    for (allowed, need) in &classes {
        for (d, &n) in need.iter().enumerate() {
            if n <= 0.0 {
                continue;
            }
            let mut placed = Expression::from(0.0);
            for &c in *allowed {
                if amount(&demand.choices[c].allocatable, &dims[d]) <= 0.0 {
                    continue;
                }
                let w = vars.add(variable().min(0.0));
                placed += w;
                *supply.entry((c, d)).or_default() += w;
            }
            cover.push(constraint!(placed >= n));
        }
    }
    let objective: Expression = x.iter().map(|(&c, &v)| demand.choices[c].price * v).sum();
    let mut model = vars.minimise(objective.clone()).using(microlp);
    for c in cover {
        model = model.with(c);
    }
    for ((c, d), used) in supply {
        let capacity = amount(&demand.choices[c].allocatable, &dims[d]) / scale[d];
        model = model.with(constraint!(used <= capacity * x[&c]));
    }
    let solution = model
        .solve()
        .map_err(|e| anyhow::anyhow!("LP relaxation: {e}"))?;
    let nodes = x
        .iter()
        .map(|(&c, &v)| (c, solution.value(v)))
        .filter(|(_, v)| *v > 1e-9)
        .collect();
    Ok(LpBound {
        cost: solution.eval(&objective),
        nodes,
    })
}
