//! What the DaemonSets take on each instance type a template can launch.
//!
//! A DaemonSet runs on a new node only when the node's labels satisfy its
//! nodeSelector and one of its required node-affinity terms (ORed;
//! preferences never count) and it tolerates the pool's taints. The labels
//! come from the pool (its requirements and labels) and from the instance
//! type, so two types of one pool can run different daemons: an arm64-only
//! agent takes nothing on amd64 types. Types running the same daemons share
//! one [`DaemonLoad`]; each type gets the room its pods have left.
//!
//! `karpenter.sh/registered` and `karpenter.sh/initialized` count as `true`:
//! every node kerf launches gets them, so a daemon that waits for them still
//! runs there (Karpenter's node claim template does the same).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::daemons::Daemon;
use crate::instance_type::InstanceType;
use crate::pod::{HostPort, PodInfo};
use crate::requirements::{Requirement, Requirements};
use crate::resources::Resources;
use crate::taints;
use crate::template::NodeTemplate;

/// The daemons one group of instance types runs.
pub(crate) struct DaemonLoad {
    pub(crate) requests: Resources,
    pub(crate) ports: Vec<HostPort>,
    /// `namespace/name` of the DaemonSet binding each of `ports`, for reasons.
    port_owners: Vec<String>,
}

/// Per instance type of a template (same index as `Tmpl::types`).
pub(crate) struct DaemonLoads {
    loads: Vec<DaemonLoad>,
    load_of: Vec<u32>,
    /// Allocatable less the type's daemon requests; where those do not fit,
    /// no pod room at all (a pod always asks for a pod slot).
    room: Vec<Resources>,
}

impl DaemonLoads {
    pub(crate) fn new(
        t: &NodeTemplate,
        types: &[Arc<InstanceType>],
        daemons: &[Daemon],
    ) -> DaemonLoads {
        let mut pool = t.requirements.clone();
        for key in [
            kerf_api::labels::NODE_REGISTERED,
            kerf_api::labels::NODE_INITIALIZED,
        ] {
            if !pool.has(key) {
                pool.add(Requirement::in_values(key, ["true"]));
            }
        }
        let tolerated: Vec<&Daemon> = daemons
            .iter()
            .filter(|d| taints::first_untolerated(&d.info.tolerations, &t.taints, false).is_none())
            .collect();
        let mut loads = Vec::new();
        let mut index: BTreeMap<Vec<usize>, u32> = BTreeMap::new();
        let mut load_of = Vec::with_capacity(types.len());
        let mut room = Vec::with_capacity(types.len());
        for it in types {
            let running: Vec<usize> = tolerated
                .iter()
                .enumerate()
                .filter(|(_, d)| runs_on_type(&d.info, &pool, it))
                .map(|(i, _)| i)
                .collect();
            let l = *index.entry(running.clone()).or_insert_with(|| {
                let mut load = DaemonLoad {
                    requests: Resources::default(),
                    ports: Vec::new(),
                    port_owners: Vec::new(),
                };
                for &i in &running {
                    let daemon = tolerated[i];
                    load.requests.add(&daemon.info.requests);
                    for port in &daemon.info.host_ports {
                        load.ports.push(port.clone());
                        load.port_owners
                            .push(format!("{}/{}", daemon.namespace, daemon.name));
                    }
                }
                loads.push(load);
                (loads.len() - 1) as u32
            });
            let load = &loads[l as usize];
            let mut left = it.allocatable().minus(&load.requests);
            if !load.requests.fits_in(it.allocatable()) {
                left.pods = -1;
            }
            load_of.push(l);
            room.push(left);
        }
        DaemonLoads {
            loads,
            load_of,
            room,
        }
    }

    pub(crate) fn of(&self, o: usize) -> &DaemonLoad {
        &self.loads[self.load_of[o] as usize]
    }

    pub(crate) fn requests(&self, o: usize) -> &Resources {
        &self.of(o).requests
    }

    /// What pods have left on type `o` once its daemons run.
    pub(crate) fn room(&self, o: usize) -> &Resources {
        &self.room[o]
    }

    /// The DaemonSet (`namespace/name`) whose daemon on type `o` binds a
    /// port that conflicts with `port`.
    pub(crate) fn port_owner(&self, o: usize, port: &HostPort) -> Option<&str> {
        let load = self.of(o);
        load.ports
            .iter()
            .position(|q| q.conflicts(port))
            .and_then(|i| load.port_owners.get(i))
            .map(String::as_str)
    }

    /// A port of `ports` a daemon on type `o` already binds.
    pub(crate) fn port_taken<'p>(&self, o: usize, ports: &'p [HostPort]) -> Option<&'p HostPort> {
        let taken = &self.of(o).ports;
        if taken.is_empty() {
            return None;
        }
        ports.iter().find(|p| taken.iter().any(|q| q.conflicts(p)))
    }
}

/// Karpenter's `isDaemonPodCompatible`, past the taints: some required term
/// (with the nodeSelector) is compatible with the pool, custom labels
/// included, and intersects the instance type's labels.
///
/// A type that runs several OSes (amd64 types run Linux and Windows) is taken
/// with the OS its node boots in this pool: a Windows-only agent takes nothing
/// on a Linux pool's nodes, as it would not with Karpenter, whose types carry
/// their EC2NodeClass's one OS.
fn runs_on_type(d: &PodInfo, pool: &Requirements, it: &InstanceType) -> bool {
    let os = it.launch_os(pool);
    d.spread_affinity.iter().any(|term| {
        pool.compatible(term, true).is_ok()
            && it.requirements.intersects(term).is_ok()
            && os.as_deref().is_none_or(|os| {
                term.get(kerf_api::labels::OS)
                    .is_none_or(|wanted| wanted.has(os))
            })
    })
}
