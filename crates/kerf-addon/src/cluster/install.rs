//! Install and uninstall of the cluster side, one reported step at a time.

use kerf_api::v1alpha5::Provisioner;
use kube::ResourceExt;

use super::ClusterSide;
use super::helm::Helm;
use super::objects;
use crate::error::AddonError;
use crate::progress::{Progress, StepOutcome, Steps};

pub const STEP_NAMESPACE: &str = "k8s:namespace";
pub const STEP_CRDS: &str = "k8s:crds";
pub const STEP_RELEASE: &str = "helm:release";
pub const STEP_PROVISIONER: &str = "k8s:default-provisioner";

fn timeout_arg(side: &ClusterSide) -> String {
    format!("{}s", side.wait_timeout.as_secs().max(1))
}

pub async fn install(side: &ClusterSide, progress: &mut dyn Progress) -> Result<(), AddonError> {
    let mut steps = Steps::new(progress);
    let release = format!("{} (namespace {})", side.release, side.namespace);

    let client = steps
        .run(STEP_NAMESPACE, &side.namespace, async {
            let client = objects::client(side).await?;
            let outcome = objects::ensure_namespace(&client, &side.namespace).await?;
            Ok((outcome, client))
        })
        .await?;

    let crds = kerf_api::crds::all()
        .iter()
        .map(|c| c.name_any())
        .collect::<Vec<_>>()
        .join(", ");
    steps
        .run(STEP_CRDS, &crds, async {
            Ok((objects::apply_crds(&client).await?, ()))
        })
        .await?;

    steps
        .run(STEP_RELEASE, &release, async {
            let helm = Helm::prepare(side)?;
            let deployed = helm.deployed().await?;
            if let Some(deployed) = &deployed
                && helm.is_current(deployed).await?
            {
                return Ok((StepOutcome::Unchanged, ()));
            }
            let chart = helm.chart_dir.display().to_string();
            let values = helm.values_file.display().to_string();
            let timeout = timeout_arg(side);
            helm.run(&[
                "upgrade",
                "--install",
                &side.release,
                &chart,
                "--values",
                &values,
                "--wait",
                "--timeout",
                &timeout,
            ])
            .await?;
            let outcome = match deployed {
                None => StepOutcome::Created,
                Some(_) => StepOutcome::Updated,
            };
            Ok((outcome, ()))
        })
        .await?;

    if let Some(provisioner) = &side.default_provisioner {
        let name = provisioner_name(provisioner);
        steps
            .run(STEP_PROVISIONER, &name, async {
                let outcome =
                    objects::apply_provisioner(&client, provisioner, side.wait_timeout).await?;
                Ok((outcome, ()))
            })
            .await?;
    }
    Ok(())
}

pub async fn uninstall(side: &ClusterSide, progress: &mut dyn Progress) -> Result<(), AddonError> {
    let mut steps = Steps::new(progress);
    let release = format!("{} (namespace {})", side.release, side.namespace);
    let resource = side
        .default_provisioner
        .as_ref()
        .map(provisioner_name)
        .unwrap_or_else(|| {
            format!(
                "{}={}",
                objects::MANAGED_BY_LABEL,
                objects::MANAGED_BY_VALUE
            )
        });

    let client = steps
        .run(STEP_PROVISIONER, &resource, async {
            let client = objects::client(side).await?;
            let deleted = objects::delete_provisioners(&client).await?;
            let outcome = if deleted.is_empty() {
                StepOutcome::Absent
            } else {
                StepOutcome::Deleted
            };
            Ok((outcome, client))
        })
        .await?;

    steps
        .run(STEP_RELEASE, &release, async {
            let helm = Helm::prepare(side)?;
            if helm.deployed().await?.is_none() {
                return Ok((StepOutcome::Absent, ()));
            }
            let timeout = timeout_arg(side);
            helm.run(&["uninstall", &side.release, "--wait", "--timeout", &timeout])
                .await?;
            Ok((StepOutcome::Deleted, ()))
        })
        .await?;

    steps
        .run(STEP_NAMESPACE, &side.namespace, async {
            let outcome =
                objects::delete_namespace(&client, &side.namespace, side.wait_timeout).await?;
            Ok((outcome, ()))
        })
        .await?;
    Ok(())
}

fn provisioner_name(p: &Provisioner) -> String {
    p.name_any()
}
