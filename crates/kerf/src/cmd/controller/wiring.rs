//! `kerf controller`'s process: the Kubernetes client, the cloud provider the
//! flags name, and the controller run on them. Set-up failures exit 2 (a
//! setting kerf cannot use), a controller that stops with an error exits 1.

use std::sync::Arc;

use kerf_cloud::{Catalog, CloudProvider, InMemoryCloud};
use kerf_kwok::KwokCloud;

use super::args::{CloudProviderKind, ControllerArgs, duration};
use crate::cmd::CmdError;

/// The Kubernetes client, and for the AWS provider the CA certificates (DER)
/// its configuration trusts, which AWS nodes get when `--cluster-ca-bundle`
/// is not given (empty for the other providers).
async fn client(args: &ControllerArgs) -> Result<(kube::Client, Vec<Vec<u8>>), CmdError> {
    let config = crate::cmd::kube_config(args.kubeconfig.as_deref()).await?;
    let root_certs = match args.cloud_provider {
        CloudProviderKind::Aws => config.root_cert.clone().unwrap_or_default(),
        CloudProviderKind::Kwok | CloudProviderKind::Memory => Vec::new(),
    };
    let client = kube::Client::try_from(config)
        .map_err(|e| CmdError::failed("building the Kubernetes client")(Box::new(e)))?;
    Ok((client, root_certs))
}

/// The cloud-neutral providers (kwok, in-memory). The AWS provider is not
/// built here: it comes with its own loops, so [`run`] hands it to
/// `kerf_aws::controllers` whole.
async fn cloud(
    args: &ControllerArgs,
    client: &kube::Client,
) -> Result<Arc<dyn CloudProvider>, CmdError> {
    let catalog = || match &args.catalog {
        Some(path) => {
            Catalog::from_file(path).map_err(|e| CmdError::invalid_flag("--catalog", e.to_string()))
        }
        None => Ok(Catalog::builtin()),
    };
    Ok(match args.cloud_provider {
        CloudProviderKind::Kwok => {
            let delay = duration("--kwok-launch-delay", &args.kwok_launch_delay, true)?;
            let registration = duration(
                "--kwok-registration-delay",
                &args.kwok_registration_delay,
                true,
            )?;
            let kwok = Arc::new(
                KwokCloud::with_catalog(client.clone(), catalog()?)
                    .with_launch_delay(delay)
                    .with_registration_delay(registration),
            );
            for offering in super::args::kwok_insufficient_capacity(args)? {
                kwok.insufficient_capacity(offering);
            }
            kwok.throttle_every(args.kwok_throttle_every);
            // Booting instances register even if an earlier kerf launched them.
            kwok.spawn_boot_loop();
            kwok
        }
        CloudProviderKind::Memory => Arc::new(InMemoryCloud::new(catalog()?)),
        // run() hands it to the AWS controllers; a build without them has
        // refused it in options() before anything started.
        CloudProviderKind::Aws => {
            return Err(CmdError::FlagCombination(
                "--cloud-provider aws is set up by the AWS controllers, not here",
            ));
        }
    })
}

/// Runs the controller until it fails; exit code 2 for bad configuration.
/// Logs go through the binary's subscriber (`RUST_LOG` / `--log-level`).
pub fn run(args: ControllerArgs) -> i32 {
    let (options, endpoints) = match super::args::options(&args) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("kerf controller: {e}");
            return 2;
        }
    };
    let runtime = match crate::cmd::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kerf controller: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let (client, root_certs) = match client(&args).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kerf controller: {e}");
                return 2;
            }
        };
        #[cfg(feature = "aws")]
        if args.cloud_provider == CloudProviderKind::Aws {
            let mut args = args.clone();
            if args.cluster_ca_bundle.trim().is_empty() {
                // As Karpenter does: the CA kerf itself trusts for the API server.
                match kerf_aws::launch::user_data::ca_bundle_from_der(&root_certs) {
                    Some(ca) => args.cluster_ca_bundle = ca,
                    None => {
                        eprintln!(
                            "kerf controller: --cluster-ca-bundle (CLUSTER_CA_BUNDLE) is empty and \
                             the Kubernetes client configuration names no CA certificate, so nodes \
                             could not verify the API server"
                        );
                        return 2;
                    }
                }
            }
            return super::aws::run(&args, options, client, endpoints).await;
        }
        #[cfg(not(feature = "aws"))]
        let _ = root_certs;
        let cloud = match cloud(&args, &client).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kerf controller: {e}");
                return 2;
            }
        };
        match kerf_controller::run(options, client, cloud, endpoints).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("kerf controller: {e}");
                1
            }
        }
    })
}
