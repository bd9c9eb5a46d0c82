//! `kerf webhook`: the admission webhook (validation and defaulting of
//! Provisioner, AWSNodeTemplate, NodePool, EC2NodeClass) over HTTPS. The
//! serving certificate comes from `--cert-dir`, or from the Secret
//! `--cert-secret` that the webhook generates and rotates; the CA is patched
//! into the named webhook configurations. Exits 2 on bad flags.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::CmdError;
use kerf_api::duration::GoDuration;
use kerf_webhook::certs::service_dns_names;
use kerf_webhook::configurations::{MUTATING_NAME, VALIDATING_NAME, WebhookService};
use kerf_webhook::run::{CertSource, Options, run as run_webhook};

/// Serve kerf's admission webhook.
#[derive(clap::Args, Debug, Clone)]
pub struct WebhookArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub address: IpAddr,
    /// HTTPS port.
    #[arg(long, env = "WEBHOOK_PORT", default_value_t = 8443)]
    pub port: u16,
    /// Namespace of the webhook's Service and certificate Secret.
    #[arg(long, env = "SYSTEM_NAMESPACE", default_value = "karpenter")]
    pub namespace: String,
    /// Name of the webhook's Service (the certificate covers its DNS names).
    #[arg(long, default_value = "kerf-webhook")]
    pub service_name: String,
    /// Extra names (DNS or IP) the serving certificate must cover.
    #[arg(long = "extra-san")]
    pub extra_sans: Vec<String>,
    /// Secret (in --namespace) holding the certificate; generated and rotated by the webhook.
    #[arg(long, default_value = "kerf-webhook-cert", conflicts_with = "cert_dir")]
    pub cert_secret: String,
    /// Read ca.crt, tls.crt and tls.key from this directory instead of a Secret.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// How often the certificate is re-read and checked for rotation (Go duration).
    #[arg(long, default_value = "1h")]
    pub cert_refresh: String,
    /// ValidatingWebhookConfiguration to patch the CA into ("" for none).
    #[arg(long, default_value = VALIDATING_NAME)]
    pub validating_configuration: String,
    /// MutatingWebhookConfiguration to patch the CA into ("" for none).
    #[arg(long, default_value = MUTATING_NAME)]
    pub mutating_configuration: String,
    /// Kubeconfig file; without it the in-cluster service account (or $KUBECONFIG) is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

fn options(args: &WebhookArgs) -> Result<Options, CmdError> {
    const REFRESH: &str = "--cert-refresh";
    let refresh: GoDuration = args
        .cert_refresh
        .parse()
        .map_err(|e| CmdError::invalid_flag(REFRESH, format!("{:?}: {e}", args.cert_refresh)))?;
    let refresh = refresh.to_std().filter(|d| !d.is_zero()).ok_or_else(|| {
        CmdError::invalid_flag(
            REFRESH,
            format!("{:?}: must be more than 0s", args.cert_refresh),
        )
    })?;
    let cert = match &args.cert_dir {
        Some(dir) => CertSource::Dir(dir.clone()),
        None => {
            let mut sans = service_dns_names(&args.service_name, &args.namespace);
            sans.extend(args.extra_sans.iter().cloned());
            CertSource::Secret {
                namespace: args.namespace.clone(),
                name: args.cert_secret.clone(),
                sans,
            }
        }
    };
    let configurations = match (
        args.validating_configuration.as_str(),
        args.mutating_configuration.as_str(),
    ) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(CmdError::FlagCombination(
                "--validating-configuration and --mutating-configuration: give both or neither",
            ));
        }
        (v, m) => Some((v.to_string(), m.to_string())),
    };
    Ok(Options {
        addr: SocketAddr::new(args.address, args.port),
        cert,
        configurations,
        service: Some(WebhookService {
            namespace: args.namespace.clone(),
            name: args.service_name.clone(),
        }),
        refresh,
    })
}

async fn client(args: &WebhookArgs) -> Result<kube::Client, CmdError> {
    let config = super::kube_config(args.kubeconfig.as_deref()).await?;
    kube::Client::try_from(config)
        .map_err(|e| CmdError::failed("building the Kubernetes client")(Box::new(e)))
}

/// Runs the webhook until SIGINT/SIGTERM; exit code 2 for bad flags, 1 for failures.
pub fn run(args: WebhookArgs) -> i32 {
    let options = match options(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("kerf webhook: {e}");
            return e.exit_code();
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kerf webhook: {e}");
            return e.exit_code();
        }
    };
    let result = runtime.block_on(async {
        let needs_client =
            options.configurations.is_some() || matches!(options.cert, CertSource::Secret { .. });
        let client = if needs_client {
            Some(client(&args).await?)
        } else {
            None
        };
        run_webhook(options, client, shutdown_signal())
            .await
            .map_err(|e| CmdError::failed("serving admission reviews")(Box::new(e)))
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kerf webhook: {e}");
            e.exit_code()
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: WebhookArgs,
    }

    fn parse(args: &[&str]) -> Result<Options, String> {
        let cli = Cli::try_parse_from(std::iter::once("webhook").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        options(&cli.args).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_keep_the_cert_in_a_secret_covering_the_service() {
        let o = parse(&["--namespace=karpenter", "--service-name=kerf-webhook"]).unwrap();
        assert_eq!(o.addr.port(), 8443);
        let CertSource::Secret { name, sans, .. } = o.cert else {
            panic!("expected a Secret source")
        };
        assert_eq!(name, "kerf-webhook-cert");
        assert!(sans.contains(&"kerf-webhook.karpenter.svc".to_string()));
        assert_eq!(
            o.configurations,
            Some((VALIDATING_NAME.to_string(), MUTATING_NAME.to_string()))
        );
        assert_eq!(o.refresh, std::time::Duration::from_secs(3600));
        // The chart's flags are where the CRDs' conversion is pointed.
        assert_eq!(
            o.service,
            Some(WebhookService {
                namespace: "karpenter".into(),
                name: "kerf-webhook".into(),
            })
        );
    }

    #[test]
    fn bad_flags_are_named() {
        let err = parse(&["--cert-refresh=soon"]).unwrap_err();
        assert!(err.contains("--cert-refresh"), "{err}");
        let err = parse(&["--validating-configuration="]).unwrap_err();
        assert!(err.contains("give both or neither"), "{err}");
        let o = parse(&[
            "--cert-dir=/certs",
            "--validating-configuration=",
            "--mutating-configuration=",
        ])
        .unwrap();
        assert!(matches!(o.cert, CertSource::Dir(_)));
        assert!(o.configurations.is_none());
    }
}
