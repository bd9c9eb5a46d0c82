//! Node-class status: on a timer (leader only) every EC2NodeClass and
//! AWSNodeTemplate in the controller's state is resolved through the provider
//! (discovery is cached, so this is cheap) and its status (subnets, security
//! groups, AMIs, instance profile, the *Ready conditions) written through the
//! status subresource when it changed. A selector that matches nothing, or a
//! resolution AWS refuses, also becomes a Warning Event on the class. A class
//! with a `role` is held by a finalizer until kerf deleted the instance
//! profile it made for it, once no NodeClaim uses the class.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::AwsCloudProvider;
use crate::instance_profile;
use crate::nodeclass::{self, keep_transition_times};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kerf_api::v1::{EC2NodeClass, EC2NodeClassStatus, NodeClaim};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_controller::Context;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};

use super::events::{self, Notice};
use super::metrics::AwsMetrics;

/// How often the classes are re-resolved.
pub const INTERVAL: Duration = Duration::from_secs(10);

pub async fn run(ctx: Arc<Context>, provider: Arc<AwsCloudProvider>, metrics: AwsMetrics) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !ctx.is_active() {
            continue;
        }
        let (classes, templates, claimed) = {
            let state = ctx.state();
            let classes: Vec<EC2NodeClass> = state
                .objects::<EC2NodeClass>()
                .map(|(_, c)| c.clone())
                .collect();
            let templates: Vec<AWSNodeTemplate> = state
                .objects::<AWSNodeTemplate>()
                .map(|(_, t)| t.clone())
                .collect();
            // Classes NodeClaims still launch from: their profile must outlive them.
            let claimed: BTreeSet<String> = state
                .objects::<NodeClaim>()
                .filter(|(_, c)| c.spec.node_class_ref.kind == "EC2NodeClass")
                .map(|(_, c)| c.spec.node_class_ref.name.clone())
                .collect();
            (classes, templates, claimed)
        };
        for class in classes {
            let held = class
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == instance_profile::FINALIZER);
            // Held classes are released even if their `role` was since
            // replaced by an `instanceProfile`: the profile kerf made goes too.
            if held && class.metadata.deletion_timestamp.is_some() {
                let name = class.metadata.name.clone().unwrap_or_default();
                if !claimed.contains(&name) {
                    release(&ctx, &provider, &metrics, &class).await;
                }
                continue;
            }
            if class.spec.role.is_some() && class.metadata.deletion_timestamp.is_none() {
                hold(&ctx, &class).await;
            }
            provider.set_node_class(class.clone());
            let old = class.status.clone().unwrap_or_default();
            let reference =
                events::reference("karpenter.k8s.aws/v1", "EC2NodeClass", &class.metadata);
            let Some(status) = resolve(
                &ctx,
                &provider,
                &metrics,
                &class.metadata,
                reference.clone(),
                &old.conditions,
            )
            .await
            else {
                continue;
            };
            if status != old {
                report_problems(&ctx, reference, &status);
                let api: Api<EC2NodeClass> = Api::all(ctx.client.clone());
                write(&api, &class.metadata, &status).await;
            }
        }
        for template in templates {
            provider.set_node_template(&template);
            let old = template.status.clone().unwrap_or_default();
            let reference = events::reference(
                "karpenter.k8s.aws/v1alpha1",
                "AWSNodeTemplate",
                &template.metadata,
            );
            let Some(status) = resolve(
                &ctx,
                &provider,
                &metrics,
                &template.metadata,
                reference.clone(),
                &old.conditions,
            )
            .await
            else {
                continue;
            };
            let converted = nodeclass::node_template_status(&status);
            if converted != old {
                report_problems(&ctx, reference, &status);
                let api: Api<AWSNodeTemplate> = Api::all(ctx.client.clone());
                write(&api, &template.metadata, &converted).await;
            }
        }
    }
}

/// Puts the profile finalizer on a class with a `role` that lacks it.
async fn hold(ctx: &Context, class: &EC2NodeClass) {
    let finalizers = class.metadata.finalizers.clone().unwrap_or_default();
    if finalizers.iter().any(|f| f == instance_profile::FINALIZER) {
        return;
    }
    let mut with = finalizers;
    with.push(instance_profile::FINALIZER.to_string());
    patch_finalizers(ctx, class, with).await;
}

/// A held class is being deleted and no claim uses it: delete the instance
/// profile kerf made for it, then let the class go.
async fn release(
    ctx: &Context,
    provider: &AwsCloudProvider,
    metrics: &AwsMetrics,
    class: &EC2NodeClass,
) {
    let name = class.metadata.name.clone().unwrap_or_default();
    if let Err(e) = provider.delete_instance_profile(class).await {
        let code = crate::error::aws_code(&e).unwrap_or("unknown");
        metrics.cloud_error("nodeclass", "DeleteInstanceProfile", code);
        tracing::warn!(class = %name, error = %e, "deleting the class's instance profile");
        return;
    }
    let Some(rest) = kerf_controller::status::without_finalizer(
        class.metadata.finalizers.as_ref(),
        instance_profile::FINALIZER,
    ) else {
        return;
    };
    patch_finalizers(ctx, class, rest).await;
    tracing::info!(class = %name, "instance profile deleted, class released");
}

async fn patch_finalizers(ctx: &Context, class: &EC2NodeClass, finalizers: Vec<String>) {
    let name = class.metadata.name.clone().unwrap_or_default();
    let api: Api<EC2NodeClass> = Api::all(ctx.client.clone());
    let patch = serde_json::json!({ "metadata": { "finalizers": finalizers } });
    if let Err(e) = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(class = %name, error = %e, "updating the class's finalizers");
    }
}

/// Warning Events for the conditions that are not true.
fn report_problems(ctx: &Context, reference: ObjectReference, status: &EC2NodeClassStatus) {
    let notices = nodeclass::problems(status)
        .into_iter()
        .map(|(reason, message)| Notice {
            object: reference.clone(),
            warning: true,
            reason,
            message,
            action: "Resolve",
        })
        .collect();
    events::publish(&ctx.client, notices);
}

/// The class's status now, with transition times carried over from `old`
/// (None when it cannot be resolved; authorization failures become Events).
async fn resolve(
    ctx: &Context,
    provider: &AwsCloudProvider,
    metrics: &AwsMetrics,
    meta: &ObjectMeta,
    reference: ObjectReference,
    old: &[kerf_api::conditions::Condition],
) -> Option<EC2NodeClassStatus> {
    let name = meta.name.clone().unwrap_or_default();
    let mut status = match provider.node_class_status(&name).await {
        Ok(s) => s,
        Err(e) => {
            let code = crate::error::aws_code(&e).unwrap_or("unknown");
            metrics.cloud_error("nodeclass", "Resolve", code);
            tracing::warn!(class = %name, error = %e, "resolving node class");
            if crate::error::is_authorization(&e) {
                events::publish(
                    &ctx.client,
                    vec![Notice {
                        object: reference,
                        warning: true,
                        reason: "UnauthorizedOperation".into(),
                        message: format!(
                            "resolving {name}: AWS refused the call ({e}); check the controller's IAM permissions"
                        ),
                        action: "Resolve",
                    }],
                );
            }
            return None;
        }
    };
    keep_transition_times(&mut status.conditions, old, &Time(Timestamp::now()));
    Some(status)
}

async fn write<K, S>(api: &Api<K>, meta: &ObjectMeta, status: &S)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    let name = meta.name.clone().unwrap_or_default();
    let patch = serde_json::json!({ "status": status });
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => tracing::info!(class = %name, "node class status written"),
        Err(e) => tracing::warn!(class = %name, error = %e, "writing node class status"),
    }
}
