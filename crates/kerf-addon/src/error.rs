//! What can go wrong installing, removing or rendering the add-on, one variant per kind of
//! step: bad input (naming the flag, field or file entry), an AWS call (operation and
//! resource), a Kubernetes call (the object), helm, the chart on disk, and the step of an
//! install or uninstall that failed with what is already in place.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use aws_sdk_iam::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use kerf_aws::error::AwsCallError;
use kerf_cloud::CloudError;

/// A failure of the add-on's install, uninstall or render, or of building its input.
#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    /// Input kerf cannot use: a builder field (`Cluster.name`), a flag (`--requirement ...`),
    /// an entry of a requirements file, a chart value.
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    /// A requirements file that is not YAML.
    #[error("{origin}: not YAML: {source}")]
    RequirementsYaml {
        origin: String,
        #[source]
        source: serde_yaml::Error,
    },
    /// The default Provisioner fails the webhook's validation; `details` names each
    /// requirement at fault.
    #[error("the default Provisioner built from the requirements map is invalid:\n{details}")]
    InvalidProvisioner { details: String },
    /// `Cluster.account` is not the account of the credentials.
    #[error("Cluster.account: is {want} but the credentials are for account {got}")]
    WrongAccount { want: String, got: String },

    /// An AWS call failed: the operation (`IAM GetRole`), the resource, AWS's code and message.
    #[error("{operation}{}: {source}", spaced(resource))]
    Aws {
        operation: &'static str,
        resource: String,
        #[source]
        source: AwsCallError,
    },
    /// A call through kerf-aws's shared helpers (the instance profile) failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// AWS answered without a field kerf needs.
    #[error("{operation}{} returned no {field}", spaced(resource))]
    MissingField {
        operation: &'static str,
        resource: String,
        field: &'static str,
    },
    /// A policy document or event pattern AWS returned is not JSON.
    #[error("{what}: the document AWS returned is not JSON: {source}")]
    Document {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// An AWS request (a tag, a rule's target) could not be built.
    #[error("building {what}: {source}")]
    Request {
        what: String,
        #[source]
        source: BuildError,
    },
    /// The EKS cluster does not exist.
    #[error("EKS cluster {name} does not exist (EKS DescribeCluster)")]
    ClusterNotFound { name: String },
    /// A resource with the name kerf uses exists, was not created by kerf, and differs from
    /// what kerf needs: kerf will not take it over (uninstall would then delete it).
    #[error(
        "{resource} exists, was not created by kerf (no kerf.sh/managed-by tag) and {differs}; \
         kerf leaves it alone: delete or fix it"
    )]
    NotKerfs { resource: String, differs: String },
    /// The instance profile holds another role (a profile holds one).
    #[error(
        "instance profile {profile} already holds role {held} (a profile holds one role); kerf \
         needs it to hold {role}"
    )]
    ProfileHoldsOtherRole {
        profile: String,
        held: String,
        role: String,
    },

    /// No Kubernetes client could be configured from the kubeconfig (or without one).
    #[error("{what}: {}", chain(source.as_ref()))]
    KubeConfig {
        what: String,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// A Kubernetes API call failed; `action` names the call and the object.
    #[error("{action}: {}", chain(source))]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// A Provisioner named like the default one exists and was not created by kerf.
    #[error(
        "Provisioner {name} exists and was not created by kerf addon (no label {label}); kerf \
         leaves it alone: delete it, or install without a default Provisioner"
    )]
    ProvisionerNotKerfs { name: String, label: String },
    /// Install found the namespace being deleted.
    #[error("namespace {name} is being deleted; re-run once it is gone")]
    NamespaceTerminating { name: String },
    /// Uninstall deleted the namespace and it is still there after the wait.
    #[error("namespace {name} still terminating after {timeout:?}")]
    NamespaceNotGone { name: String, timeout: Duration },

    /// The helm binary could not be run.
    #[error(
        "{command}: running {} (install helm or pass its path): {source}",
        helm.display()
    )]
    HelmNotRun {
        command: String,
        helm: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// helm ran and failed; `stderr` is what it said.
    #[error("{command} exited with {status}: {stderr}")]
    HelmFailed {
        command: String,
        status: ExitStatus,
        stderr: String,
    },
    /// helm's output is not what kerf reads (`-o json`, a manifest, UTF-8).
    #[error("{command}: unexpected output: {}", chain(source.as_ref()))]
    HelmOutput {
        command: String,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// Reading or writing a file or folder (the chart written out for helm, a requirements file).
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An object could not be serialized (helm's values file, render's output).
    #[error("rendering {what}: {source}")]
    Render {
        what: String,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },

    /// A step of an install or uninstall failed. Says what is already in place: every step
    /// is idempotent, so a re-run resumes there.
    #[error(
        "step {step} ({resource}) failed: {source}; already done: {}; re-running resumes \
         (every step is idempotent)",
        already_done(done)
    )]
    Step {
        step: String,
        resource: String,
        #[source]
        source: Box<AddonError>,
        done: Vec<String>,
    },
}

impl AddonError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AddonError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A failed AWS call: the service's code and message, or the transport failure.
    pub fn aws<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        e: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + Error + 'static,
        R: std::fmt::Debug,
    {
        let source = match e.as_service_error() {
            Some(se) => AwsCallError {
                code: Some(se.code().unwrap_or("error").to_string()),
                message: se.message().unwrap_or("(no message)").to_string(),
            },
            None => AwsCallError {
                code: None,
                message: DisplayErrorContext(&e).to_string(),
            },
        };
        AddonError::Aws {
            operation,
            resource: resource.into(),
            source,
        }
    }

    /// A failed Kubernetes call; `action` names it and the object (`reading namespace x`).
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| AddonError::Kube { action, source }
    }

    /// A missing or unwritable file or folder.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AddonError::Io {
            action,
            path,
            source,
        }
    }

    /// An object that could not be serialized for helm or for printing.
    pub fn render<E: Error + Send + Sync + 'static>(
        what: impl Into<String>,
    ) -> impl FnOnce(E) -> Self {
        let what = what.into();
        move |e| AddonError::Render {
            what,
            source: Box::new(e),
        }
    }
}

/// ` resource`, or nothing for a call without one (`STS GetCallerIdentity`).
fn spaced(resource: &str) -> String {
    if resource.is_empty() {
        String::new()
    } else {
        format!(" {resource}")
    }
}

fn already_done(done: &[String]) -> String {
    if done.is_empty() {
        "nothing".to_string()
    } else {
        done.join(", ")
    }
}

/// An error and its causes on one line (`a: b: c`): kube's and the kubeconfig's errors keep
/// the cause that matters (a refused connection, a missing file) out of their own message.
fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // Some errors repeat their cause in their own message.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_names_itself_its_cause_and_what_is_in_place() {
        let cause = AddonError::ClusterNotFound {
            name: "demo".into(),
        };
        let step = AddonError::Step {
            step: "eks:cluster".into(),
            resource: "demo".into(),
            source: Box::new(cause),
            done: vec!["sts:account caller identity".into()],
        };
        assert_eq!(
            step.to_string(),
            "step eks:cluster (demo) failed: EKS cluster demo does not exist (EKS \
             DescribeCluster); already done: sts:account caller identity; re-running resumes \
             (every step is idempotent)"
        );
    }

    #[test]
    fn an_aws_call_without_a_resource_has_no_stray_space() {
        let e = AddonError::MissingField {
            operation: "STS GetCallerIdentity",
            resource: String::new(),
            field: "Account",
        };
        assert_eq!(e.to_string(), "STS GetCallerIdentity returned no Account");
        let e = AddonError::MissingField {
            operation: "IAM GetRole",
            resource: "r".into(),
            field: "role",
        };
        assert_eq!(e.to_string(), "IAM GetRole r returned no role");
    }

    #[test]
    fn foreign_causes_are_kept_on_the_line() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = AddonError::KubeConfig {
            what: "reading kubeconfig /k".into(),
            source: Box::new(Wrapped(io)),
        };
        assert_eq!(
            e.to_string(),
            "reading kubeconfig /k: failed to read: no such file"
        );
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failed to read")
        }
    }
    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
}
