//! Pod requests as Kubernetes computes them (init containers, sidecars,
//! overhead, one pod slot).

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::resources::{MILLI, Resources};

fn container_requests(c: &Container, field: &str) -> Result<Resources, (String, String)> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    // The API server defaults a missing request to its limit; manifests read by
    // the simulator have not been through it, so do the same here.
    let mut merged = res.limits.clone().unwrap_or_default();
    merged.extend(res.requests.clone().unwrap_or_default());
    Resources::from_quantities(&merged)
        .map_err(|e| (format!("{field}.resources[{}]", e.resource), e.to_string()))
}

/// Pod requests as Kubernetes computes them: the larger of each init
/// container's request (plus the sidecars started before it) and the sum of the
/// app containers and sidecars, plus pod overhead, plus one pod.
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
    if let Some(overhead) = &spec.overhead {
        app.add(
            &Resources::from_quantities(overhead)
                .map_err(|e| (format!("spec.overhead[{}]", e.resource), e.to_string()))?,
        );
    }
    app.pods = MILLI;
    Ok(app)
}
