//! Pod requests as Kubernetes computes them (init containers, sidecars,
//! pod-level resources, overhead, one pod slot).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::resources::{CPU, MEMORY, MILLI, Resources};

/// The API server refuses a negative quantity in requests, limits and
/// overhead ("must be greater than or equal to 0"); one read here would
/// shrink the pod and over-pack its node.
fn non_negative(
    list: Option<&BTreeMap<String, Quantity>>,
    field: &str,
) -> Result<(), (String, String)> {
    for (name, quantity) in list.into_iter().flatten() {
        if kerf_api::quantity::parse_milli(&quantity.0).is_ok_and(|milli| milli < 0) {
            return Err((
                format!("{field}[{name}]"),
                format!("{:?} must be greater than or equal to 0", quantity.0),
            ));
        }
    }
    Ok(())
}

fn container_requests(c: &Container, field: &str) -> Result<Resources, (String, String)> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    non_negative(
        res.requests.as_ref(),
        &format!("{field}.resources.requests"),
    )?;
    non_negative(res.limits.as_ref(), &format!("{field}.resources.limits"))?;
    // The API server defaults a missing request to its limit; manifests read by
    // the simulator have not been through it, so do the same here.
    let mut merged = res.limits.clone().unwrap_or_default();
    merged.extend(res.requests.clone().unwrap_or_default());
    Resources::from_quantities(&merged)
        .map_err(|e| (format!("{field}.resources[{}]", e.resource), e.to_string()))
}

/// Pod requests as Kubernetes computes them: the larger of each init
/// container's request (plus the sidecars started before it) and the sum of the
/// app containers and sidecars, with pod-level requests in place of that for
/// the resources they name, plus pod overhead, plus one pod.
pub fn pod_requests(pod: &Pod) -> Result<Resources, (String, String)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Resources::default());
    };
    let mut app = Resources::default();
    for (i, c) in spec.containers.iter().enumerate() {
        app.add(&container_requests(c, &format!("spec.containers[{i}]"))?);
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let req = container_requests(c, &format!("spec.initContainers[{i}]"))?;
        if c.restart_policy.as_deref() == Some("Always") {
            app.add(&req);
            sidecars.add(&req);
            init_peak.max_with(&sidecars);
        } else {
            init_peak.max_with(&req.plus(&sidecars));
        }
    }
    app.max_with(&init_peak);
    for (name, milli) in pod_level_requests(spec)? {
        app.set(&name, milli);
    }
    if let Some(overhead) = &spec.overhead {
        non_negative(Some(overhead), "spec.overhead")?;
        app.add(
            &Resources::from_quantities(overhead)
                .map_err(|e| (format!("spec.overhead[{}]", e.resource), e.to_string()))?,
        );
    }
    app.pods = MILLI;
    Ok(app)
}

/// Whether `spec.resources` may name the resource (Kubernetes'
/// `IsSupportedPodLevelResource`); others there are ignored, as kube-scheduler does.
pub fn is_pod_level_resource(name: &str) -> bool {
    name == CPU || name == MEMORY || name.starts_with("hugepages-")
}

/// The pod-level requests (`spec.resources`, Kubernetes 1.32+
/// PodLevelResources) that replace the containers' total, as the API server
/// leaves them: a supported resource's request, or, when only a pod-level
/// limit names it and no container mentions it, that limit (the API server's
/// `defaultPodRequests`; manifests the simulator reads have not been through it).
fn pod_level_requests(spec: &PodSpec) -> Result<Vec<(String, i64)>, (String, String)> {
    let Some(res) = spec.resources.as_ref() else {
        return Ok(Vec::new());
    };
    non_negative(res.requests.as_ref(), "spec.resources.requests")?;
    non_negative(res.limits.as_ref(), "spec.resources.limits")?;
    let (requests, requested) = supported_only(res.requests.as_ref(), "requests")?;
    let (limits, limited) = supported_only(res.limits.as_ref(), "limits")?;
    let in_containers: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.resources.as_ref())
        .flat_map(|r| {
            r.requests
                .iter()
                .chain(r.limits.iter())
                .flat_map(|l| l.keys())
        })
        .map(String::as_str)
        .collect();
    let mut out: Vec<(String, i64)> = requested
        .iter()
        .map(|k| (k.clone(), requests.get(k)))
        .collect();
    for k in limited.difference(&requested) {
        if !in_containers.contains(k.as_str()) {
            out.push((k.clone(), limits.get(k)));
        }
    }
    Ok(out)
}

/// The pod-level resources of one list `spec.resources` may name, parsed,
/// and their names.
fn supported_only(
    list: Option<&BTreeMap<String, Quantity>>,
    field: &str,
) -> Result<(Resources, BTreeSet<String>), (String, String)> {
    let supported: BTreeMap<String, Quantity> = list
        .into_iter()
        .flatten()
        .filter(|(k, _)| is_pod_level_resource(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let parsed = Resources::from_quantities(&supported).map_err(|e| {
        (
            format!("spec.resources.{field}[{}]", e.resource),
            e.to_string(),
        )
    })?;
    Ok((parsed, supported.into_keys().collect()))
}
