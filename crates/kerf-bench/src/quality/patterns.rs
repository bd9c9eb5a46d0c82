//! The pattern bound: the configuration LP (Gilmore–Gomory) over node
//! patterns, a lower bound that knows pods are indivisible.
//!
//! A pattern is one node of one choice and how many pods of each class it
//! holds (integer counts whose summed requests fit the allocatable). Every
//! plan is a set of patterns, so `min Σ price·x` over patterns with every
//! class's pods covered (`x ≥ 0` fractional) bounds every plan from below,
//! and it is never below [`super::lp_bound`], which lets a pod's requests be
//! split across nodes. Two 16-core pods do not share a 31.85-core node here.
//!
//! There are too many patterns to list, so the dual is solved by cutting
//! planes: `max Σ n_k·π_k` subject to `Σ a_k·π_k ≤ price` for the patterns
//! found so far; a best-first branch-and-bound knapsack per choice finds a pattern the
//! current `π` violates most. Whatever the pricing finds, the bound stays a
//! bound: `θ = max(1, max_c U_c / price_c)`, where `U_c` is a proven upper
//! bound on `max π·a` for choice c, scales `π` into a feasible dual of the
//! full LP, so `Σ n_k·π_k / θ` is a lower bound by weak duality (Farley's
//! bound). The last restricted dual's value bounds the optimum from above,
//! so [`PatternBound::gap`] says how close the bound came to it.

use std::collections::{BTreeMap, BinaryHeap};

use good_lp::{Expression, ProblemVariables, Solution, SolverModel, Variable, microlp, variable};

use super::demand::Demand;

/// The bound and how it was reached.
#[derive(Clone, Debug, Default)]
pub struct PatternBound {
    pub cost: f64,
    /// Pattern constraints the dual LP ended with.
    pub patterns: usize,
    /// How far below the configuration LP optimum the bound may be, as a
    /// fraction: the optimum lies between `cost` and `cost / (1 - gap)`
    /// (the last restricted dual's value bounds it from above).
    pub gap: f64,
}

/// Cutting-plane rounds before the best bound so far is returned.
const MAX_ROUNDS: usize = 60;
/// Patterns added per round (the most violated, one per choice at most).
const PATTERNS_PER_ROUND: usize = 24;
/// Branch-and-bound nodes per knapsack before its proven upper bound is used.
const KNAPSACK_NODES: usize = 50_000;
/// Subtrees whose bound is within this fraction of the incumbent are not
/// explored; their bound still counts in the knapsack's upper bound, so the
/// pattern bound loses at most this fraction and stays a bound.
const PRICING_TOLERANCE: f64 = 1e-4;

/// A pattern: its node's price, and (class, pods of it) for every class it holds.
type Pattern = (f64, Vec<(usize, f64)>);

/// Pods with the same requests and the same choices.
struct Class {
    count: f64,
    /// Requests per dimension, in units of the largest allocatable.
    size: Vec<f64>,
}

/// One choice as the pricing sees it.
struct Bin {
    price: f64,
    capacity: Vec<f64>,
    /// Classes that may use this choice and fit it empty.
    classes: Vec<usize>,
}

/// See the module doc.
pub fn pattern_bound(demand: &Demand) -> anyhow::Result<PatternBound> {
    if demand.pods.is_empty() {
        return Ok(PatternBound::default());
    }
    let (classes, bins) = classes_and_bins(demand);
    if classes.is_empty() || bins.is_empty() {
        return Ok(PatternBound::default());
    }
    // π_k never exceeds the cheapest $/pod of a node full of class k alone;
    // those single-class patterns start the LP bounded.
    let mut ceiling = vec![f64::INFINITY; classes.len()];
    for bin in &bins {
        for &k in &bin.classes {
            let most = max_copies(&classes[k].size, &bin.capacity).min(classes[k].count);
            if most >= 1.0 {
                ceiling[k] = ceiling[k].min(bin.price / most);
            }
        }
    }
    // Demand keeps only pods some choice holds, so every class has a ceiling;
    // one without would otherwise drop out of the bound unnoticed.
    if let Some(k) = ceiling.iter().position(|c| !c.is_finite()) {
        return Err(anyhow::anyhow!("pod class {k} fits no instance type whole"));
    }
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut best = 0.0f64;
    let mut ceiling_value = f64::INFINITY;
    for _ in 0..MAX_ROUNDS {
        let (value, duals) = solve_dual(&classes, &ceiling, &patterns)?;
        let mut theta = 1.0f64;
        // (how far over its price, the pattern)
        let mut violated: Vec<(f64, Pattern)> = Vec::new();
        for bin in &bins {
            let found = best_pattern(bin, &classes, &duals);
            theta = theta.max(found.upper / bin.price);
            if found.value > bin.price * (1.0 + 1e-7) {
                violated.push((found.value / bin.price, (bin.price, found.counts)));
            }
        }
        best = best.max(value / theta);
        ceiling_value = ceiling_value.min(value);
        if violated.is_empty() || theta - 1.0 < 1e-6 {
            break;
        }
        violated.sort_by(|a, b| b.0.total_cmp(&a.0));
        patterns.extend(
            violated
                .into_iter()
                .take(PATTERNS_PER_ROUND)
                .map(|(_, pattern)| pattern),
        );
    }
    Ok(PatternBound {
        cost: best,
        patterns: patterns.len(),
        gap: if ceiling_value > 0.0 && ceiling_value.is_finite() {
            (1.0 - best / ceiling_value).max(0.0)
        } else {
            0.0
        },
    })
}

fn classes_and_bins(demand: &Demand) -> (Vec<Class>, Vec<Bin>) {
    let dims = demand.dimensions();
    let scale = demand.scale(&dims);
    let mut keyed: BTreeMap<(&[usize], Vec<i64>), usize> = BTreeMap::new();
    for p in &demand.pods {
        let requests: Vec<i64> = dims.iter().map(|d| p.info.requests.get(d)).collect();
        *keyed.entry((p.allowed.as_slice(), requests)).or_insert(0) += 1;
    }
    let mut classes = Vec::new();
    let mut allowed_by_class = Vec::new();
    for ((allowed, requests), count) in keyed {
        classes.push(Class {
            count: count as f64,
            size: requests
                .iter()
                .zip(&scale)
                .map(|(&r, s)| r as f64 / s)
                .collect(),
        });
        allowed_by_class.push(allowed);
    }
    let mut bins = Vec::new();
    for (c, choice) in demand.choices.iter().enumerate() {
        let capacity: Vec<f64> = dims
            .iter()
            .zip(&scale)
            .map(|(d, s)| choice.allocatable.get(d) as f64 / s)
            .collect();
        let members: Vec<usize> = (0..classes.len())
            .filter(|&k| allowed_by_class[k].binary_search(&c).is_ok())
            .filter(|&k| max_copies(&classes[k].size, &capacity) >= 1.0)
            .collect();
        if !members.is_empty() && choice.price > 0.0 {
            bins.push(Bin {
                price: choice.price,
                capacity,
                classes: members,
            });
        }
    }
    (classes, drop_dominated(bins))
}

/// A bin no cheaper and no larger than another that takes every class it
/// takes can never price a better pattern; leaving it out keeps the bound.
fn drop_dominated(bins: Vec<Bin>) -> Vec<Bin> {
    let dominates = |a: &Bin, b: &Bin| {
        a.price <= b.price
            && a.capacity.iter().zip(&b.capacity).all(|(x, y)| x >= y)
            && b.classes.iter().all(|k| a.classes.binary_search(k).is_ok())
    };
    let mut keep = vec![true; bins.len()];
    for i in 0..bins.len() {
        for j in 0..bins.len() {
            // Ties go to the lower index, so of two equal bins one stays.
            if i != j
                && keep[j]
                && dominates(&bins[j], &bins[i])
                && (!dominates(&bins[i], &bins[j]) || j < i)
            {
                keep[i] = false;
                break;
            }
        }
    }
    bins.into_iter()
        .zip(keep)
        .filter_map(|(b, k)| k.then_some(b))
        .collect()
}

/// How many whole copies of `size` fit `capacity`.
fn max_copies(size: &[f64], capacity: &[f64]) -> f64 {
    size.iter()
        .zip(capacity)
        .filter(|(s, _)| **s > 0.0)
        .map(|(s, c)| (c / s + 1e-9).floor())
        .fold(f64::INFINITY, f64::min)
}

/// The restricted dual: `max Σ n_k·π_k`, `0 ≤ π_k ≤ ceiling_k`, and
/// `Σ a_k·π_k ≤ price` for every pattern. Its value and `π`.
fn solve_dual(
    classes: &[Class],
    ceiling: &[f64],
    patterns: &[Pattern],
) -> anyhow::Result<(f64, Vec<f64>)> {
    let mut vars = ProblemVariables::new();
    let pi: Vec<Variable> = ceiling
        .iter()
        .map(|&c| vars.add(variable().min(0.0).max(c)))
        .collect();
    let objective: Expression = classes.iter().zip(&pi).map(|(k, &v)| k.count * v).sum();
    let mut model = vars.maximise(objective.clone()).using(microlp);
    for (price, counts) in patterns {
        let used: Expression = counts.iter().map(|&(k, a)| a * pi[k]).sum();
        model = model.with(used.leq(*price));
    }
    let solution = model
        .solve()
        .map_err(|e| anyhow::anyhow!("pattern bound LP: {e}"))?;
    let duals = pi.iter().map(|&v| solution.value(v).max(0.0)).collect();
    Ok((solution.eval(&objective), duals))
}

/// What the knapsack for one bin found.
struct Priced {
    /// The best pattern's value `π·a`, and its counts.
    value: f64,
    counts: Vec<(usize, f64)>,
    /// A proven upper bound on `max π·a`.
    upper: f64,
}

/// Best-first branch and bound over the bin's classes, densest first: a
/// node fixes the counts of the first `i` classes; its children try every
/// count of class `i` that fits. When the node budget runs out, the largest
/// bound still open is a proven upper bound.
fn best_pattern(bin: &Bin, classes: &[Class], duals: &[f64]) -> Priced {
    let mut items: Vec<usize> = bin
        .classes
        .iter()
        .copied()
        .filter(|&k| duals[k] > 1e-12)
        .collect();
    let weight = |k: usize| -> f64 {
        classes[k]
            .size
            .iter()
            .zip(&bin.capacity)
            .filter(|(_, c)| **c > 0.0)
            .map(|(s, c)| s / c)
            .sum::<f64>()
            .max(1e-12)
    };
    items.sort_by(|&a, &b| (duals[b] / weight(b)).total_cmp(&(duals[a] / weight(a))));
    let mut bounds = Bounds::new(&items, classes, duals, &bin.capacity);
    if let Some(w) = lp_weights(&items, classes, duals, &bin.capacity) {
        bounds.weights.push(w);
    }

    // Arena of nodes: (parent, count of the parent's class), for the counts.
    let mut arena: Vec<(usize, f64)> = vec![(usize::MAX, 0.0)];
    let mut open = BinaryHeap::new();
    let mut best = (0.0, 0usize);
    open.push(Open {
        bound: bounds.upper(0, &bin.capacity),
        value: 0.0,
        depth: 0,
        node: 0,
        room: bin.capacity.clone(),
    });
    // The largest bound of a subtree left unexplored: pruned within the
    // tolerance, or still open when the budget ran out.
    let mut unexplored = 0.0f64;
    let close_enough = |bound: f64, best: f64| bound <= best * (1.0 + PRICING_TOLERANCE);
    while let Some(top) = open.pop() {
        if close_enough(top.bound, best.0) {
            unexplored = unexplored.max(top.bound);
            break;
        }
        if arena.len() > KNAPSACK_NODES {
            unexplored = unexplored.max(top.bound);
            break;
        }
        let k = items[top.depth];
        let size = &classes[k].size;
        let most = max_copies(size, &top.room).min(classes[k].count).max(0.0);
        let mut a = most;
        while a >= 0.0 {
            let room: Vec<f64> = top.room.iter().zip(size).map(|(r, s)| r - a * s).collect();
            let value = top.value + a * duals[k];
            let improves = value > best.0;
            let bound = if top.depth + 1 < items.len() {
                value + bounds.upper(top.depth + 1, &room)
            } else {
                value
            };
            let worth = top.depth + 1 < items.len() && !close_enough(bound, best.0.max(value));
            if improves || worth {
                arena.push((top.node, a));
                let node = arena.len() - 1;
                if improves {
                    best = (value, node);
                }
                if worth {
                    open.push(Open {
                        bound,
                        value,
                        depth: top.depth + 1,
                        node,
                        room,
                    });
                }
            } else {
                unexplored = unexplored.max(bound);
            }
            a -= 1.0;
        }
    }
    // Open nodes whose bound fell below the incumbent after they were pushed
    // are settled; the rest are not.
    let upper = open
        .iter()
        .map(|o| o.bound)
        .filter(|&b| !close_enough(b, best.0))
        .fold(unexplored, f64::max);
    let upper = if close_enough(upper, best.0) {
        upper.max(best.0)
    } else {
        upper
    };
    let mut counts = Vec::new();
    let mut node = best.1;
    let mut depth = depth_of(&arena, node);
    while node != 0 {
        depth -= 1;
        let (parent, a) = arena[node];
        if a > 0.0 {
            counts.push((items[depth], a));
        }
        node = parent;
    }
    Priced {
        value: best.0,
        counts,
        upper: upper.max(best.0),
    }
}

fn depth_of(arena: &[(usize, f64)], mut node: usize) -> usize {
    let mut depth = 0;
    while node != 0 {
        node = arena[node].0;
        depth += 1;
    }
    depth
}

/// The dimension weights that make the surrogate bound at the root equal the
/// knapsack's LP relaxation: the `λ` of its dual, `min cap·λ + n·μ` subject
/// to `size_k·λ + μ_k ≥ π_k`. None if the LP fails (the other weights stay).
fn lp_weights(
    items: &[usize],
    classes: &[Class],
    duals: &[f64],
    capacity: &[f64],
) -> Option<Vec<f64>> {
    if items.is_empty() {
        return None;
    }
    let mut vars = ProblemVariables::new();
    let lambda: Vec<Variable> = capacity
        .iter()
        .map(|_| vars.add(variable().min(0.0)))
        .collect();
    let mu: Vec<Variable> = items
        .iter()
        .map(|_| vars.add(variable().min(0.0)))
        .collect();
    let objective: Expression = capacity
        .iter()
        .zip(&lambda)
        .map(|(&c, &l)| c * l)
        .chain(items.iter().zip(&mu).map(|(&k, &m)| classes[k].count * m))
        .sum();
    let mut model = vars.minimise(objective).using(microlp);
    for (&k, &m) in items.iter().zip(&mu) {
        let covered: Expression = classes[k]
            .size
            .iter()
            .zip(&lambda)
            .map(|(&s, &l)| s * l)
            .sum::<Expression>()
            + m;
        model = model.with(covered.geq(duals[k]));
    }
    let solution = model.solve().ok()?;
    Some(lambda.iter().map(|&l| solution.value(l).max(0.0)).collect())
}

/// An open node of the search, ordered by its bound.
struct Open {
    bound: f64,
    value: f64,
    /// Classes `..depth` are fixed.
    depth: usize,
    node: usize,
    room: Vec<f64>,
}

impl PartialEq for Open {
    fn eq(&self, other: &Self) -> bool {
        self.bound.total_cmp(&other.bound).is_eq()
    }
}
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Open {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bound
            .total_cmp(&other.bound)
            .then_with(|| self.value.total_cmp(&other.value))
    }
}

/// Upper bounds on what classes `from..` add within a room: surrogate
/// relaxations, each folding the dimensions into one with weights and
/// solving that fractional knapsack (densest first, counts capped by the
/// class's pods); the smallest. The weights are each dimension alone and
/// all of them relative to the bin's capacity.
struct Bounds<'a> {
    items: &'a [usize],
    classes: &'a [Class],
    duals: &'a [f64],
    weights: Vec<Vec<f64>>,
}

impl<'a> Bounds<'a> {
    fn new(items: &'a [usize], classes: &'a [Class], duals: &'a [f64], capacity: &[f64]) -> Self {
        let dims = capacity.len();
        let mut weights: Vec<Vec<f64>> = (0..dims)
            .map(|d| (0..dims).map(|e| if e == d { 1.0 } else { 0.0 }).collect())
            .collect();
        weights.push(
            capacity
                .iter()
                .map(|&c| if c > 0.0 { 1.0 / c } else { 0.0 })
                .collect(),
        );
        Bounds {
            items,
            classes,
            duals,
            weights,
        }
    }

    fn upper(&self, from: usize, room: &[f64]) -> f64 {
        let mut bound = f64::INFINITY;
        for w in &self.weights {
            let cap: f64 = room.iter().zip(w).map(|(r, w)| r.max(0.0) * w).sum();
            let mut free = 0.0;
            let mut dense: Vec<(f64, f64, f64)> = Vec::with_capacity(self.items.len() - from);
            for &k in &self.items[from..] {
                let size: f64 = self.classes[k].size.iter().zip(w).map(|(s, w)| s * w).sum();
                let (v, n) = (self.duals[k], self.classes[k].count);
                if size <= 0.0 {
                    free += v * n;
                } else {
                    dense.push((v, size, n));
                }
            }
            dense.sort_by(|a, b| (b.0 / b.1).total_cmp(&(a.0 / a.1)));
            let mut left = cap;
            let mut value = free;
            for (v, s, n) in dense {
                if left <= 0.0 {
                    break;
                }
                let take = (left / s).min(n);
                value += take * v;
                left -= take * s;
            }
            bound = bound.min(value);
        }
        if bound.is_finite() { bound } else { 0.0 }
    }
}
