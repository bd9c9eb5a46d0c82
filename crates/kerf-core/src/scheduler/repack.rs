//! The finishing pass: planned nodes packed again for price.
//!
//! The packer keeps a planned node open while any instance type still holds
//! it, so a busy node ends on the largest type that fits, and the largest
//! types are seldom the cheapest per unit of what the pods ask for (four
//! one-GPU pods fill a g4dn.12xlarge at $3.91/h where four g4dn.xlarge cost
//! $2.10/h). Here the pods of planned nodes that share a template and
//! requirements, and that no rule ties to their node, are packed again: node
//! after node, the instance type that holds the most value per dollar when
//! filled with its share of every kind of pod left and then the room left
//! (two ways, see [`Finish`]). The result replaces those planned nodes only
//! when it costs less and stays within the template's limits.
//!
//! A pod is free to move when it has no host ports and every topology key it
//! takes part in (its own terms, and the terms of others that select it) is
//! pinned to one value by the nodes' requirements: moving it between nodes
//! with the same requirements then changes no count any rule reads.

use rustc_hash::FxHashMap;

use super::*;

/// Pods with identical requests, packed together.
struct Class {
    requests: Resources,
    pods: Vec<usize>,
    /// What the pod costs at the best price per unit any type offers for the
    /// resource it needs most of: the value a node buys by holding it.
    value: f64,
}

/// An instance type the group's nodes may use, and the room it gives pods.
struct Choice {
    option: u32,
    price: f64,
    room: Resources,
}

/// One node of a new packing: the choice it was filled for and how many
/// pods of each class it holds.
#[derive(Clone)]
struct Fill {
    choice: usize,
    taken: Vec<usize>,
    value: f64,
}

impl<'a> Solver<'a> {
    /// Re-packs groups of planned nodes whose pods are free to move, where
    /// that is cheaper; placements follow their pods.
    pub(super) fn repack(&mut self) {
        let mut replacements: BTreeMap<usize, Vec<Claim>> = BTreeMap::new();
        for group in self.movable_groups() {
            if let Some(claims) = self.repack_group(&group) {
                replacements.insert(group[0], claims);
                for &c in &group[1..] {
                    replacements.insert(c, Vec::new());
                }
            }
        }
        if replacements.is_empty() {
            return;
        }
        let old = std::mem::take(&mut self.claims);
        for (c, claim) in old.into_iter().enumerate() {
            match replacements.remove(&c) {
                Some(new) => self.claims.extend(new),
                None => self.claims.push(claim),
            }
        }
        let mut claim_of = vec![usize::MAX; self.pending.len()];
        for (c, claim) in self.claims.iter().enumerate() {
            for &i in &claim.pods {
                claim_of[i] = c;
            }
        }
        for (i, slot) in &mut self.placements {
            if let Slot::Claim(c) = slot {
                *c = claim_of[*i];
            }
        }
    }

    /// Planned nodes whose pods are all free to move, grouped by template
    /// and requirements, each group in plan order; none under minValues.
    fn movable_groups(&self) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut index: FxHashMap<(usize, &Requirements), usize> = FxHashMap::default();
        for (c, claim) in self.claims.iter().enumerate() {
            // A node under minValues keeps the options its pods left it:
            // packed again, fewer types might fit.
            if super::min_values::any(&claim.requirements) {
                continue;
            }
            if !claim
                .pods
                .iter()
                .all(|&i| self.movable(i, &claim.requirements))
            {
                continue;
            }
            let g = *index
                .entry((claim.template, &claim.requirements))
                .or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
            groups[g].push(c);
        }
        groups
    }

    fn movable(&self, i: usize, requirements: &Requirements) -> bool {
        let p = &self.pending[i];
        if !p.info.host_ports.is_empty() {
            return false;
        }
        let info = &p.info;
        let own = info
            .spread
            .iter()
            .map(|s| &s.term)
            .chain(info.active_affinity())
            .chain(info.active_anti_affinity())
            .map(|t| t.topology_key.as_str());
        let selected_by = p.member_of.iter().map(|g| self.topology.group_key(*g));
        own.chain(selected_by).all(|key| {
            key != kerf_api::labels::HOSTNAME
                && requirements
                    .get(key)
                    .is_some_and(|r| !r.complement && r.values.len() == 1)
        })
    }

    /// A cheaper packing of the group's pods, if there is one within limits.
    fn repack_group(&mut self, group: &[usize]) -> Option<Vec<Claim>> {
        let first = &self.claims[group[0]];
        let pods: usize = group.iter().map(|&c| self.claims[c].pods.len()).sum();
        if group.len() == 1 && pods < 2 {
            return None;
        }
        let (t, requirements) = (first.template, first.requirements.clone());
        let tmpl = &self.templates[t];
        let choices = choices(tmpl, &requirements);
        let cheapest_fit = |requests: &Resources| -> Option<&Choice> {
            choices.iter().find(|ch| requests.fits_in(&ch.room))
        };
        let mut old_cost = 0.0;
        for &c in group {
            old_cost += cheapest_fit(&self.claims[c].requests)?.price;
        }
        let mut group_demand = Resources::default();
        for &c in group {
            group_demand.add(&self.claims[c].requests);
        }
        if old_cost <= lower_bound(&group_demand, &choices) * (1.0 + GOOD_ENOUGH) {
            return None;
        }
        let undominated = undominated(&choices);
        let classes = classes(
            group
                .iter()
                .flat_map(|&c| self.claims[c].pods.iter().copied()),
            |i| &self.pending[i].info.requests,
            &undominated,
        )?;
        let packing_cost = |fills: &[Fill]| -> Option<f64> {
            fills
                .iter()
                .map(|f| cheapest_fit(&demand(&classes, &f.taken)).map(|ch| ch.price))
                .sum()
        };
        // With one class both finishes fill alike.
        let finishes: &[Finish] = if classes.len() > 1 {
            &[Finish::ByValue, Finish::RemaindersFirst]
        } else {
            &[Finish::ByValue]
        };
        let group_slack = if self.snapshot.options.consolidating {
            f64::INFINITY
        } else {
            FEWER_NODES_GROUP_SLACK
        };
        let fills = finishes
            .iter()
            .filter_map(|&finish| {
                let fills = pack(&undominated, &classes, finish, group_slack)?;
                Some((packing_cost(&fills)?, fills))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, fills)| fills)?;

        let mut next = vec![0usize; classes.len()];
        let mut claims = Vec::with_capacity(fills.len());
        let (mut new_cost, mut committed) = (0.0, Resources::default());
        for fill in &fills {
            let mut pods = Vec::new();
            let mut requests = Resources::default();
            for (k, &n) in fill.taken.iter().enumerate() {
                let class = &classes[k];
                for &i in &class.pods[next[k]..next[k] + n] {
                    pods.push(i);
                    requests.add(&class.requests);
                }
                next[k] += n;
            }
            let chosen = cheapest_fit(&requests)?;
            let capacity = &tmpl.types[chosen.option as usize].capacity;
            new_cost += chosen.price;
            committed.add(capacity);
            claims.push(Claim {
                template: t,
                requirements: requirements.clone(),
                options: choices.iter().map(|ch| ch.option).collect(),
                requests,
                ports: Vec::new(),
                hostname: self.topology.fresh_domain(),
                pods,
                committed: capacity.clone(),
                min_values_relaxed: false,
            });
        }
        // Pods keep their order on a node, as the packer placed them.
        for claim in &mut claims {
            claim.pods.sort_unstable();
        }
        if new_cost >= old_cost - 1e-9 {
            return None;
        }
        let mut released = Resources::default();
        for &c in group {
            released.add(&self.claims[c].committed);
        }
        let extra_nodes = claims.len() as i64 - group.len() as i64;
        let tmpl = &mut self.templates[t];
        if let Some(remaining) = &tmpl.remaining
            && !committed.fits_in(&remaining.plus(&released))
        {
            return None;
        }
        if tmpl.nodes_left.is_some_and(|left| extra_nodes > left) {
            return None;
        }
        if let Some(remaining) = tmpl.remaining.as_mut() {
            remaining.add(&released);
            remaining.sub(&committed);
        }
        if let Some(left) = tmpl.nodes_left.as_mut() {
            *left -= extra_nodes;
        }
        Some(claims)
    }
}

/// The template's instance types a node with these requirements can be, in
/// price order (ties by name), each with the room left after daemonsets.
fn choices(tmpl: &Tmpl, requirements: &Requirements) -> Vec<Choice> {
    let mask = tmpl.offers.mask(requirements);
    let mut out: Vec<Choice> = tmpl
        .types
        .iter()
        .enumerate()
        .filter(|(_, it)| it.requirements.intersects(requirements).is_ok())
        .filter(|(o, _)| tmpl.daemons.room(*o).pods >= 0)
        .filter_map(|(o, it)| {
            let offering = tmpl.offers.cheapest(o, it, &mask)?;
            Some(Choice {
                option: o as u32,
                price: offering.price,
                room: tmpl.daemons.room(o).clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.price.total_cmp(&b.price).then_with(|| {
            tmpl.types[a.option as usize]
                .name
                .cmp(&tmpl.types[b.option as usize].name)
        })
    });
    out
}

/// A packing this close to the lower bound is not packed again: the most it
/// could save is not worth the search.
const GOOD_ENOUGH: f64 = 0.005;

/// What `demand` costs at least: for each resource, the demand at the
/// cheapest price per unit of room any choice offers; the dearest resource
/// decides.
fn lower_bound(demand: &Resources, choices: &[Choice]) -> f64 {
    demand
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(name, amount)| {
            let per_unit = choices
                .iter()
                .filter(|ch| ch.room.get(name) > 0)
                .map(|ch| ch.price / ch.room.get(name) as f64)
                .fold(f64::INFINITY, f64::min);
            amount as f64 * per_unit
        })
        .fold(0.0, f64::max)
}

/// The choices no other choice beats on price and room at once.
fn undominated(choices: &[Choice]) -> Vec<&Choice> {
    let mut kept: Vec<&Choice> = Vec::new();
    for ch in choices {
        // In price order, so only an earlier (no dearer) choice can dominate.
        if !kept.iter().any(|k| ch.room.fits_in(&k.room)) {
            kept.push(ch);
        }
    }
    kept
}

/// The share of `room` that `requests` takes in its tightest resource
/// (infinite where the room has none of a resource the pods need).
fn share(requests: &Resources, room: &Resources) -> f64 {
    requests
        .iter()
        .map(|(name, amount)| {
            let have = room.get(name);
            if have <= 0 {
                f64::INFINITY
            } else {
                amount as f64 / have as f64
            }
        })
        .fold(0.0, f64::max)
}

/// The pods grouped by requests, most valuable first; `None` when some pod
/// fits no choice (the packing it came from is then kept).
fn classes<'r>(
    pods: impl Iterator<Item = usize>,
    requests_of: impl Fn(usize) -> &'r Resources,
    choices: &[&Choice],
) -> Option<Vec<Class>> {
    let mut classes: Vec<Class> = Vec::new();
    let mut index: FxHashMap<&Resources, usize> = FxHashMap::default();
    for i in pods {
        let requests = requests_of(i);
        let k = *index.entry(requests).or_insert_with(|| {
            classes.push(Class {
                requests: requests.clone(),
                pods: Vec::new(),
                value: 0.0,
            });
            classes.len() - 1
        });
        classes[k].pods.push(i);
    }
    for class in &mut classes {
        class.value = choices
            .iter()
            .filter(|ch| class.requests.fits_in(&ch.room))
            .map(|ch| ch.price * share(&class.requests, &ch.room))
            .fold(f64::INFINITY, f64::min);
        if !class.value.is_finite() {
            return None;
        }
    }
    // Stable: equal values keep the order the packer met them in.
    classes.sort_by(|a, b| b.value.total_cmp(&a.value));
    Some(classes)
}

/// How many pods asking `requests` fit in `room`.
fn fit_count(requests: &Resources, room: &Resources) -> usize {
    requests
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(name, amount)| (room.get(name).max(0) / amount) as usize)
        .min()
        .unwrap_or(usize::MAX)
}

/// What fills a node's room after its proportional slice. Rounded down, the
/// slice leaves out up to a pod of every class. Filled by value alone, the
/// room goes to the largest pods: on a batch of many small services the node
/// fills on cpu while memory lies idle, and the memory-heavy pods end on
/// nodes of their own (web × 1,000: 15 m6g.xlarge beside c6g.8xlarge nodes
/// with 6–17 GiB free each). Taking the rounded-off pods first keeps the mix,
/// but on a few large pods it wastes room a larger one would have used, so
/// both are packed and the cheaper kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Finish {
    ByValue,
    RemaindersFirst,
}

/// Fills one node of `choice` from the pods left: first a slice of every
/// class in proportion to what is left (so the node gets the batch's mix of
/// cpu-heavy and memory-heavy pods, and both run out together), then
/// (with [`Finish::RemaindersFirst`]) one more pod of each class the slice
/// rounded down, then first-fit-decreasing into what room remains.
/// `total` is what the pods left ask for together ([`demand`]).
fn fill(
    choice: usize,
    room: &Resources,
    classes: &[Class],
    left: &[usize],
    total: &Resources,
    finish: Finish,
) -> Fill {
    // The share of everything left that this node could hold, in its tightest resource.
    let fraction = total
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(name, amount)| room.get(name).max(0) as f64 / amount as f64)
        .fold(1.0, f64::min);
    let mut f = Fill {
        choice,
        taken: vec![0; classes.len()],
        value: 0.0,
    };
    let mut room = room.clone();
    for (k, class) in classes.iter().enumerate() {
        let share = (left[k] as f64 * fraction).floor() as usize;
        f.add(
            class,
            k,
            share.min(fit_count(&class.requests, &room)),
            &mut room,
        );
    }
    if finish == Finish::RemaindersFirst {
        let mut rounded_off: Vec<(f64, usize)> = (0..classes.len())
            .map(|k| {
                let exact = left[k] as f64 * fraction;
                (exact - exact.floor(), k)
            })
            .filter(|(rest, k)| *rest > 0.0 && f.taken[*k] < left[*k])
            .collect();
        rounded_off.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, k) in rounded_off {
            let n = fit_count(&classes[k].requests, &room).min(1);
            f.add(&classes[k], k, n, &mut room);
        }
    }
    for (k, class) in classes.iter().enumerate() {
        let n = fit_count(&class.requests, &room).min(left[k] - f.taken[k]);
        f.add(class, k, n, &mut room);
    }
    f
}

impl Fill {
    fn add(&mut self, class: &Class, k: usize, n: usize, room: &mut Resources) {
        if n == 0 {
            return;
        }
        for (name, amount) in class.requests.iter() {
            room.set(name, room.get(name) - amount * n as i64);
        }
        self.taken[k] += n;
        self.value += n as f64 * class.value;
    }
}

/// What `counts` pods of each class ask for together.
fn demand(classes: &[Class], counts: &[usize]) -> Resources {
    let mut total = Resources::default();
    for (class, &n) in classes.iter().zip(counts) {
        for (name, amount) in class.requests.iter() {
            total.set(name, total.get(name) + amount * n as i64);
        }
    }
    total
}

/// How much dearer per unit of value a fuller node may be and still be
/// preferred: on families priced linearly in size every size fills at nearly
/// the same rate, and one node where there could be eight is worth more to
/// run (daemons, launches, churn) than the last fraction of a percent.
const FULLER_NODE_SLACK: f64 = 0.01;

/// The node to open next: the choice whose fill buys the most value per
/// dollar, or a fuller one within [`FULLER_NODE_SLACK`] of it (ties: the
/// cheaper choice); and the cheapest choice that holds every pod left, if one does.
fn best_fill(
    choices: &[&Choice],
    classes: &[Class],
    left: &[usize],
    finish: Finish,
) -> (Option<Fill>, Option<Fill>) {
    // The same for every choice: computed once per node opened.
    let total = demand(classes, left);
    let fills: Vec<(f64, Fill)> = choices
        .iter()
        .enumerate()
        .map(|(c, ch)| (ch.price, fill(c, &ch.room, classes, left, &total, finish)))
        .filter(|(_, f)| f.value > 0.0)
        .map(|(price, f)| (price / f.value, f))
        .collect();
    // Choices are in price order, so the first that holds everything is the cheapest.
    let whole = fills
        .iter()
        .find(|(_, f)| f.taken == left)
        .map(|(_, f)| f.clone());
    let best = fills.iter().map(|(s, _)| *s).fold(f64::INFINITY, f64::min);
    let limit = best * (1.0 + FULLER_NODE_SLACK);
    let mut pick: Option<(f64, Fill)> = None;
    for (score, f) in fills {
        if score > limit {
            continue;
        }
        let better = pick.as_ref().is_none_or(|(s, p)| {
            f.value > p.value * (1.0 + 1e-9) || (f.value >= p.value * (1.0 - 1e-9) && score < *s)
        });
        if better {
            pick = Some((score, f));
        }
    }
    (pick.map(|(_, f)| f), whole)
}

fn take(left: &mut [usize], fill: &Fill) {
    for (l, n) in left.iter_mut().zip(&fill.taken) {
        *l -= n;
    }
}

/// What the greedy packing of the pods left costs, without the look-ahead,
/// and how many nodes it opens.
fn greedy_cost(
    choices: &[&Choice],
    classes: &[Class],
    left: &[usize],
    finish: Finish,
) -> (f64, usize) {
    let mut left = left.to_vec();
    let (mut cost, mut nodes) = (0.0, 0);
    while left.iter().any(|l| *l > 0) {
        let (Some(f), _) = best_fill(choices, classes, &left, finish) else {
            return (f64::INFINITY, nodes);
        };
        cost += choices[f.choice].price;
        nodes += 1;
        take(&mut left, &f);
    }
    (cost, nodes)
}

/// How much more than the greedy finish one node holding everything left
/// may cost and still be taken instead of the several smaller nodes the
/// greedy finish would open: a batch's last pods otherwise end on a spray of
/// 1-, 2- and 4-cpu nodes (4 + 2 + 1 cpu where one 8-cpu node costs a seventh
/// more). Every node runs its own daemons and kubelet and takes addresses and
/// a launch that can fail. The slack is relative to what the finish costs, so
/// a large node is never taken for a few small pods (four one-GPU pods on
/// four g4dn.xlarge, not one g4dn.12xlarge at 86% more), and applies only
/// after the group's first node: a small group is never put on one dearer
/// node whole.
const FEWER_NODES_SLACK: f64 = 0.15;

/// And, when provisioning, at most this share of what the whole group would
/// cost with the greedy finish: where the tail is most of the group, 15% of
/// it is most of the group's price. On the full EC2 catalogue a memory-heavy
/// batch of 100 pods took one r5a.24xlarge for its last 60% instead of r6g
/// sizes (7% dearer overall, 1.096 of the lower bound) to save a node; a
/// spray of small nodes behind large ones costs a percent or two of the group
/// to fold. Consolidation's simulations leave it out
/// ([`crate::snapshot::SolveOptions::consolidating`]): a command replaces its
/// candidates by one node or none, and whether that one node is worth it is
/// the command's price check, not the packing's.
const FEWER_NODES_GROUP_SLACK: f64 = 0.03;

/// Nodes for every pod: greedy by value per dollar, except that once one
/// node could hold everything left, it is taken when it costs no more than
/// the greedy finish would, or, after the first node, saves nodes for at most
/// [`FEWER_NODES_SLACK`] more than that finish and `group_slack` (a share,
/// [`FEWER_NODES_GROUP_SLACK`] when provisioning) more than the group would
/// cost with it.
fn pack(
    choices: &[&Choice],
    classes: &[Class],
    finish: Finish,
    group_slack: f64,
) -> Option<Vec<Fill>> {
    let mut left: Vec<usize> = classes.iter().map(|c| c.pods.len()).collect();
    let mut out: Vec<Fill> = Vec::new();
    while left.iter().any(|l| *l > 0) {
        let (next, whole) = best_fill(choices, classes, &left, finish);
        let next = next?;
        if let Some(whole) = whole
            && whole.choice != next.choice
        {
            let mut rest = left.clone();
            take(&mut rest, &next);
            let (rest_cost, rest_nodes) = greedy_cost(choices, classes, &rest, finish);
            let greedy = choices[next.choice].price + rest_cost;
            let whole_price = choices[whole.choice].price;
            // Only for a tail: a group's first node is never bought dearer.
            let slack = if rest_nodes > 0 && !out.is_empty() {
                let so_far: f64 = out.iter().map(|f| choices[f.choice].price).sum();
                (greedy * FEWER_NODES_SLACK).min((so_far + greedy) * group_slack)
            } else {
                0.0
            };
            if whole_price <= greedy + slack {
                out.push(whole);
                break;
            }
        }
        take(&mut left, &next);
        let done = left.iter().all(|l| *l == 0);
        out.push(next);
        if done {
            break;
        }
    }
    Some(out)
}
