//! Pod requests (Kubernetes `PodRequests`, pod-level resources included) and host ports.

use super::*;
use crate::resources::QuantityError;
use k8s_openapi::api::core::v1::PodSpec;

/// A quantity in a pod's requests that is not a quantity, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum RequestsError {
    #[error("container {container}: {quantity}")]
    Container {
        container: String,
        quantity: QuantityError,
    },
    /// `spec.overhead`.
    #[error("overhead: {0}")]
    Overhead(QuantityError),
    /// `spec.resources`, the pod-level requests and limits.
    #[error("pod resources: {0}")]
    PodLevel(QuantityError),
}

pub(super) fn container_requests(c: &Container) -> Result<Resources, RequestsError> {
    let Some(r) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    // The API server defaults each missing request to its limit.
    let mut list = r.limits.clone().unwrap_or_default();
    for (k, q) in r.requests.iter().flatten() {
        list.insert(k.clone(), q.clone());
    }
    Resources::from_quantities(&list).map_err(|quantity| RequestsError::Container {
        container: c.name.clone(),
        quantity,
    })
}

pub(super) fn max_into(acc: &mut Resources, other: &Resources) {
    for (name, v) in other.iter() {
        if v > acc.get(name) {
            acc.set(name, v);
        }
    }
}

/// max(each init container + the sidecars started before it, app containers + all
/// sidecars) + overhead, and one pod.
pub(super) fn pod_requests(pod: &Pod) -> Result<Resources, RequestsError> {
    let mut total = Resources::default();
    if let Some(spec) = pod.spec.as_ref() {
        let mut app = Resources::default();
        for c in &spec.containers {
            app.add(&container_requests(c)?);
        }
        let mut sidecars = Resources::default();
        let mut init_peak = Resources::default();
        for c in spec.init_containers.iter().flatten() {
            let r = container_requests(c)?;
            if c.restart_policy.as_deref() == Some("Always") {
                app.add(&r);
                sidecars.add(&r);
                max_into(&mut init_peak, &sidecars);
            } else {
                max_into(&mut init_peak, &r.plus(&sidecars));
            }
        }
        max_into(&mut app, &init_peak);
        total = app;
        // PodLevelResources: a pod-level request for cpu, memory or hugepages
        // stands for the containers' total.
        for (name, milli) in pod_level(spec)? {
            total.set(&name, milli);
        }
        if let Some(overhead) = spec.overhead.as_ref() {
            total.add(&Resources::from_quantities(overhead).map_err(RequestsError::Overhead)?);
        }
    }
    total.pods = MILLI;
    Ok(total)
}

fn pod_level_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory") || name.starts_with("hugepages-")
}

/// `spec.resources` as the API server stores it: each supported request, and
/// for a supported limit without a request, the limit when no container names
/// that resource (otherwise the containers' total, which is no change).
fn pod_level(spec: &PodSpec) -> Result<Vec<(String, i64)>, RequestsError> {
    let Some(r) = spec.resources.as_ref() else {
        return Ok(Vec::new());
    };
    let requests = r.requests.clone().unwrap_or_default();
    let named_by_containers = |name: &str| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .filter_map(|c| c.resources.as_ref())
            .any(|cr| {
                cr.requests.as_ref().is_some_and(|l| l.contains_key(name))
                    || cr.limits.as_ref().is_some_and(|l| l.contains_key(name))
            })
    };
    let mut chosen = BTreeMap::new();
    for (name, q) in &requests {
        if pod_level_resource(name) {
            chosen.insert(name.clone(), q.clone());
        }
    }
    for (name, q) in r.limits.iter().flatten() {
        if pod_level_resource(name) && !requests.contains_key(name) && !named_by_containers(name) {
            chosen.insert(name.clone(), q.clone());
        }
    }
    let parsed = Resources::from_quantities(&chosen).map_err(RequestsError::PodLevel)?;
    Ok(chosen.keys().map(|k| (k.clone(), parsed.get(k))).collect())
}

/// Host ports of the app containers, as the API server defaults them.
pub(super) fn host_ports(pod: &Pod) -> Vec<Port> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let host_network = spec.host_network == Some(true);
    let mut out = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            // With hostNetwork the API server sets hostPort to containerPort.
            let port = p.host_port.or(if host_network {
                Some(p.container_port)
            } else {
                None
            });
            let Some(port) = port.filter(|p| *p > 0) else {
                continue;
            };
            out.push(Port {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                port,
                protocol: p
                    .protocol
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "TCP".into()),
            });
        }
    }
    out
}
