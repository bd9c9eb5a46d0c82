//! The Kubernetes objects the cluster side owns directly (not through helm): the namespace
//! and the default Provisioner, both labelled `kerf.sh/managed-by=kerf-addon` so uninstall
//! removes only what install created, and kerf's CRDs, which helm installs once and never
//! upgrades.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kerf_api::v1alpha5::Provisioner;
use kerf_kube::{NotFoundExt, is_not_found};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};

use super::ClusterSide;
use crate::error::AddonError;
use crate::progress::StepOutcome;

pub const MANAGED_BY_LABEL: &str = "kerf.sh/managed-by";
pub const MANAGED_BY_VALUE: &str = "kerf-addon";
/// Server-side apply field manager of the default Provisioner.
pub const FIELD_MANAGER: &str = "kerf-addon";

const POLL: Duration = Duration::from_secs(1);

/// A client from `side.kubeconfig`, or the default configuration.
pub async fn client(side: &ClusterSide) -> Result<Client, AddonError> {
    let unusable = |what: String| {
        move |e: kube::config::KubeconfigError| AddonError::KubeConfig {
            what,
            source: Box::new(e),
        }
    };
    let config = match &side.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(unusable(format!("reading kubeconfig {}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(unusable(format!("kubeconfig {}", path.display())))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| AddonError::KubeConfig {
                what: "no kubeconfig given and none found (KUBECONFIG, ~/.kube/config, \
                       in-cluster)"
                    .into(),
                source: Box::new(e),
            })?,
    };
    Client::try_from(config).map_err(AddonError::kube("building the Kubernetes client"))
}

fn managed(labels: &std::collections::BTreeMap<String, String>) -> bool {
    labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

/// The namespace as install creates it.
pub fn namespace(name: &str) -> Namespace {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    ns.metadata.labels =
        Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into());
    ns
}

/// Creates the namespace unless it exists (an existing one is left as it is, unlabelled, so
/// uninstall keeps it).
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<StepOutcome, AddonError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let existing = api
        .get_opt(name)
        .await
        .map_err(AddonError::kube(format!("reading namespace {name}")))?;
    if let Some(existing) = existing {
        if existing.metadata.deletion_timestamp.is_some() {
            return Err(AddonError::NamespaceTerminating {
                name: name.to_string(),
            });
        }
        return Ok(StepOutcome::Unchanged);
    }
    match api.create(&PostParams::default(), &namespace(name)).await {
        Ok(_) => Ok(StepOutcome::Created),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(StepOutcome::Unchanged),
        Err(e) => Err(AddonError::kube(format!("creating namespace {name}"))(e)),
    }
}

/// Deletes the namespace if install created it, and waits until it is gone.
pub async fn delete_namespace(
    client: &Client,
    name: &str,
    timeout: Duration,
) -> Result<StepOutcome, AddonError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let read = || AddonError::kube(format!("reading namespace {name}"));
    let Some(existing) = api.get_opt(name).await.map_err(read())? else {
        return Ok(StepOutcome::Absent);
    };
    if !managed(existing.labels()) {
        // Someone else's namespace: kerf only removed its own objects from it.
        return Ok(StepOutcome::Unchanged);
    }
    let deleted = api
        .delete(name, &DeleteParams::foreground())
        .await
        .ok_if_not_found()
        .map_err(AddonError::kube(format!("deleting namespace {name}")))?;
    if deleted.is_none() {
        return Ok(StepOutcome::Deleted);
    }
    let deadline = Instant::now() + timeout;
    while api.get_opt(name).await.map_err(read())?.is_some() {
        if Instant::now() > deadline {
            return Err(AddonError::NamespaceNotGone {
                name: name.to_string(),
                timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(StepOutcome::Deleted)
}

/// Server-side applies the CRDs of this kerf version. Helm creates a chart's `crds/` on the
/// first install only and never changes them, so without this an upgrade of kerf would keep
/// the old schemas. The CRDs are left in place by uninstall, as helm leaves them: deleting
/// a CRD deletes every Provisioner and NodePool of the cluster.
pub async fn apply_crds(client: &Client) -> Result<StepOutcome, AddonError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let (mut created, mut updated) = (false, false);
    for mut crd in kerf_api::crds::all() {
        let name = crd.name_any();
        let before = api
            .get_opt(&name)
            .await
            .map_err(AddonError::kube(format!("reading CRD {name}")))?;
        if let Some(live) = &before {
            keep_conversion_endpoint(&mut crd, live);
        }
        let after = api
            .patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(AddonError::kube(format!("applying CRD {name}")))?;
        // Compared by spec, not resourceVersion: taking co-ownership of the fields the
        // webhook wrote (its CA and Service) is a write that changes nothing.
        match before {
            None => created = true,
            Some(b) if b.spec != after.spec => updated = true,
            Some(_) => {}
        }
    }
    Ok(if updated {
        StepOutcome::Updated
    } else if created {
        StepOutcome::Created
    } else {
        StepOutcome::Unchanged
    })
}

/// The webhook owns where the API server reaches its conversion endpoint: it writes its
/// CA and its own Service (namespace and name) into the CRDs. Applying the committed
/// CRDs (which name `kube-system/kerf-webhook` and no CA) over that would break
/// conversion until the webhook's next refresh, and make every install an update.
fn keep_conversion_endpoint(crd: &mut CustomResourceDefinition, live: &CustomResourceDefinition) {
    let config = |c: &CustomResourceDefinition| {
        c.spec
            .conversion
            .as_ref()
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.clone())
    };
    let Some(live) = config(live) else {
        return;
    };
    let desired = crd
        .spec
        .conversion
        .as_mut()
        .and_then(|c| c.webhook.as_mut())
        .and_then(|w| w.client_config.as_mut());
    let Some(desired) = desired else {
        return;
    };
    if live.ca_bundle.is_some() {
        desired.ca_bundle = live.ca_bundle;
    }
    if let (Some(desired), Some(live)) = (desired.service.as_mut(), live.service) {
        desired.namespace = live.namespace;
        desired.name = live.name;
    }
}

/// The Provisioner as install applies it: labelled as kerf's.
pub fn labelled(provisioner: &Provisioner) -> Provisioner {
    let mut p = provisioner.clone();
    p.labels_mut()
        .insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string());
    p.metadata.managed_fields = None;
    p.metadata.resource_version = None;
    p.status = None;
    p
}

/// Whether `stored` already is `desired` (as given, or as the defaulting webhook stores it).
fn is_current(stored: &Provisioner, desired: &Provisioner) -> bool {
    let mut defaulted = desired.clone();
    defaulted.set_defaults();
    stored.spec == desired.spec || stored.spec == defaulted.spec
}

/// Server-side applies the default Provisioner; refuses to take over one of the same name
/// that kerf did not create (uninstall would then delete it). Retries while the webhook cannot be called
/// or the CRD is not served yet (right after the chart is installed, the webhook's CA may not
/// be patched in and the CRD may not be established).
pub async fn apply_provisioner(
    client: &Client,
    desired: &Provisioner,
    timeout: Duration,
) -> Result<StepOutcome, AddonError> {
    let name = desired.name_any();
    let api: Api<Provisioner> = Api::all(client.clone());
    let object = labelled(desired);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = async {
            let stored = api.get_opt(&name).await?;
            if let Some(stored) = &stored {
                if !managed(stored.labels()) {
                    return Ok(Err(AddonError::ProvisionerNotKerfs {
                        name: name.clone(),
                        label: format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"),
                    }));
                }
                if is_current(stored, &object) {
                    return Ok(Ok(StepOutcome::Unchanged));
                }
            }
            api.patch(&name, &params, &Patch::Apply(&object)).await?;
            let outcome = match stored {
                None => StepOutcome::Created,
                Some(_) => StepOutcome::Updated,
            };
            Ok::<_, kube::Error>(Ok(outcome))
        };
        match attempt.await {
            Ok(outcome) => return outcome,
            Err(e) if retryable(&e) && Instant::now() < deadline => {
                tracing::debug!(provisioner = %name, error = %e, "retrying the apply");
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(AddonError::kube(format!("applying Provisioner {name}"))(e)),
        }
    }
}

/// The CRD or the webhook is not serving yet, just after the chart installed them.
fn retryable(e: &kube::Error) -> bool {
    is_not_found(e)
        || matches!(e, kube::Error::Api(s) if s.message.contains("failed calling webhook"))
}

/// Deletes every Provisioner install created (labelled as kerf's); the names deleted.
pub async fn delete_provisioners(client: &Client) -> Result<Vec<String>, AddonError> {
    let api: Api<Provisioner> = Api::all(client.clone());
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let list = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list,
        // The CRD is gone (a bare 404): so is every Provisioner.
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(AddonError::kube("listing Provisioners")(e)),
    };
    let mut deleted = Vec::new();
    for p in list {
        let name = p.name_any();
        let gone = api
            .delete(&name, &DeleteParams::default())
            .await
            .ok_if_not_found()
            .map_err(AddonError::kube(format!("deleting Provisioner {name}")))?;
        if gone.is_some() {
            deleted.push(name);
        }
    }
    Ok(deleted)
}
