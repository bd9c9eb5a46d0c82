//! The Validating- and MutatingWebhookConfiguration objects for the four kinds
//! (the chart renders the same rules), and patching the CA bundle into them
//! and into the conversion webhook of the CRDs that serve v1beta1.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::server::{MUTATE_PATH, VALIDATE_PATH};
use kerf_admission::Kind;

/// Default name of the ValidatingWebhookConfiguration.
pub const VALIDATING_NAME: &str = "validation.webhook.karpenter.sh";
/// Default name of the MutatingWebhookConfiguration.
pub const MUTATING_NAME: &str = "defaulting.webhook.karpenter.sh";

/// Where the apiserver reaches the webhook.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// An in-cluster Service (`namespace`, `name`, `port`).
    Service {
        namespace: String,
        name: String,
        port: i32,
    },
    /// A base URL such as `https://127.0.0.1:8443` (the paths are appended).
    Url(String),
}

impl Endpoint {
    fn client_config(&self, path: &str, ca_pem: &str) -> WebhookClientConfig {
        let mut config = WebhookClientConfig {
            ca_bundle: Some(ByteString(ca_pem.as_bytes().to_vec())),
            ..Default::default()
        };
        match self {
            Endpoint::Service {
                namespace,
                name,
                port,
            } => {
                config.service = Some(ServiceReference {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    path: Some(path.to_string()),
                    port: Some(*port),
                });
            }
            Endpoint::Url(base) => {
                config.url = Some(format!("{}{path}", base.trim_end_matches('/')))
            }
        }
        config
    }
}

/// One rule per resource, listing every version kerf admits: CREATE and
/// UPDATE of the main resource (not status).
pub fn rules() -> Vec<RuleWithOperations> {
    Kind::ALL
        .into_iter()
        .map(|kind| RuleWithOperations {
            api_groups: Some(vec![kind.group().to_string()]),
            api_versions: Some(kind.versions().iter().map(|v| v.to_string()).collect()),
            operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
            resources: Some(vec![kind.plural().to_string()]),
            scope: Some("Cluster".into()),
        })
        .collect()
}

/// The ValidatingWebhookConfiguration (`failure_policy` `Fail` or `Ignore`).
pub fn validating(
    name: &str,
    endpoint: &Endpoint,
    ca_pem: &str,
    failure_policy: &str,
) -> ValidatingWebhookConfiguration {
    let mut config = ValidatingWebhookConfiguration::default();
    config.metadata.name = Some(name.to_string());
    config.webhooks = Some(vec![ValidatingWebhook {
        name: "validation.webhook.karpenter.sh".into(),
        admission_review_versions: vec!["v1".into()],
        client_config: endpoint.client_config(VALIDATE_PATH, ca_pem),
        failure_policy: Some(failure_policy.to_string()),
        side_effects: "None".into(),
        rules: Some(rules()),
        timeout_seconds: Some(10),
        ..Default::default()
    }]);
    config
}

/// The MutatingWebhookConfiguration (`failure_policy` `Fail` or `Ignore`).
pub fn mutating(
    name: &str,
    endpoint: &Endpoint,
    ca_pem: &str,
    failure_policy: &str,
) -> MutatingWebhookConfiguration {
    let mut config = MutatingWebhookConfiguration::default();
    config.metadata.name = Some(name.to_string());
    config.webhooks = Some(vec![MutatingWebhook {
        name: "defaulting.webhook.karpenter.sh".into(),
        admission_review_versions: vec!["v1".into()],
        client_config: endpoint.client_config(MUTATE_PATH, ca_pem),
        failure_policy: Some(failure_policy.to_string()),
        side_effects: "None".into(),
        rules: Some(rules()),
        timeout_seconds: Some(10),
        reinvocation_policy: Some("IfNeeded".into()),
        ..Default::default()
    }]);
    config
}

/// Errors of patching the CA bundle.
#[derive(Debug, thiserror::Error)]
#[error("patching caBundle into {kind} {name:?}: {source}")]
pub struct PatchCaBundleError {
    kind: String,
    name: String,
    source: kube::Error,
}

/// Sets `caBundle` of every webhook in the named configurations, and of the
/// CRDs' conversion webhook, to `ca_pem` (an object that does not exist is an
/// error). Read-modify-replace, so
/// a concurrent writer makes it retry rather than be overwritten.
pub async fn patch_ca_bundle(
    client: &Client,
    validating_name: &str,
    mutating_name: &str,
    ca_pem: &str,
    service: Option<&WebhookService>,
) -> Result<(), PatchCaBundleError> {
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    set_bundle::<ValidatingWebhookConfiguration>(client, validating_name, |c| {
        for w in c.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = Some(bundle.clone());
        }
    })
    .await?;
    set_bundle::<MutatingWebhookConfiguration>(client, mutating_name, |c| {
        for w in c.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = Some(bundle.clone());
        }
    })
    .await?;
    patch_conversion_ca_bundle(client, ca_pem, service).await
}

/// The Service the API server reaches this webhook through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookService {
    pub namespace: String,
    pub name: String,
}

/// Sets `spec.conversion.webhook.clientConfig.caBundle` of the CRDs that
/// convert v1beta1 ([`kerf_api::crds::CONVERTED`]) to `ca_pem`, and points a
/// Service reference at `service`: CRDs are not templated by Helm, so the
/// committed ones name `kube-system/kerf-webhook`, and the webhook corrects
/// that to wherever the chart installed it (a `url` is left alone). A CRD
/// without a conversion webhook (installed from an older kerf) is left alone.
pub async fn patch_conversion_ca_bundle(
    client: &Client,
    ca_pem: &str,
    service: Option<&WebhookService>,
) -> Result<(), PatchCaBundleError> {
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    for name in kerf_api::crds::CONVERTED {
        set_bundle::<CustomResourceDefinition>(client, name, |crd| {
            let config = crd
                .spec
                .conversion
                .as_mut()
                .and_then(|c| c.webhook.as_mut())
                .and_then(|w| w.client_config.as_mut());
            if let Some(config) = config {
                config.ca_bundle = Some(bundle.clone());
                if let (Some(reference), Some(ours)) = (config.service.as_mut(), service) {
                    reference.namespace.clone_from(&ours.namespace);
                    reference.name.clone_from(&ours.name);
                }
            }
        })
        .await?;
    }
    Ok(())
}

async fn set_bundle<K>(
    client: &Client,
    name: &str,
    update: impl Fn(&mut K),
) -> Result<(), PatchCaBundleError>
where
    K: Resource<Scope = k8s_openapi::ClusterResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + PartialEq,
{
    let api: Api<K> = Api::all(client.clone());
    let err = |source| PatchCaBundleError {
        kind: K::kind(&()).into_owned(),
        name: name.to_string(),
        source,
    };
    let mut attempts = 0;
    loop {
        let current = api.get(name).await.map_err(err)?;
        let mut updated = current.clone();
        update(&mut updated);
        if updated == current {
            return Ok(());
        }
        match api.replace(name, &PostParams::default(), &updated).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 && attempts < 5 => attempts += 1,
            Err(e) => return Err(err(e)),
        }
    }
}
