//! Render: the namespace, `helm template` of the embedded chart with the values install would
//! pass, and the default Provisioner, as one multi-document YAML stream. `helm template` runs
//! locally: nothing in the cluster is read or written.

use super::ClusterSide;
use super::helm::Helm;
use super::objects;
use crate::error::AddonError;

pub fn render(side: &ClusterSide) -> Result<String, AddonError> {
    let mut docs = vec![
        serde_yaml::to_string(&objects::namespace(&side.namespace))
            .map_err(AddonError::render(format!("namespace {}", side.namespace)))?,
    ];
    let helm = Helm::prepare(side)?;
    let chart = helm.chart_dir.display().to_string();
    let values = helm.values_file.display().to_string();
    let manifests = helm.run_blocking(&["template", &side.release, &chart, "--values", &values])?;
    docs.push(manifests.trim_start_matches("---\n").to_string());
    if let Some(provisioner) = &side.default_provisioner {
        docs.push(
            serde_yaml::to_string(&objects::labelled(provisioner))
                .map_err(AddonError::render("the default Provisioner"))?,
        );
    }
    Ok(docs
        .iter()
        .map(|d| d.trim_end())
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n")
}
