//! `kerf controller`'s flags: each also read from the environment variable
//! Karpenter uses, where it has one, and checked into [`ControllerOptions`]
//! (and the AWS provider's options) before anything starts; a bad value is a
//! [`ConfigError`] naming the setting.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use kerf_api::duration::GoDuration;
use kerf_controller::leader::LeaderElection;
use kerf_controller::{ControllerOptions, Endpoints};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CloudProviderKind {
    /// Nodes are Node objects that kwok keeps Ready (no cloud).
    Kwok,
    /// An in-process cloud: claims launch but no Node ever registers.
    Memory,
    /// EC2 instances (needs `--cluster-endpoint` and `AWS_REGION`).
    Aws,
}

/// The provider when none is named: EC2 in the full build, which is what a
/// cluster runs (the chart and the add-on name it too); kwok in the kwok build,
/// which has no other way to make nodes.
#[cfg(feature = "aws")]
const DEFAULT_CLOUD_PROVIDER: &str = "aws";
#[cfg(not(feature = "aws"))]
const DEFAULT_CLOUD_PROVIDER: &str = "kwok";

/// Run kerf as a controller against a cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Name of the cluster kerf provisions for (required).
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// API server endpoint nodes join (recorded; kwok needs none).
    #[arg(long, env = "CLUSTER_ENDPOINT")]
    pub cluster_endpoint: Option<String>,
    /// Where nodes come from (default: aws; kwok in a build without the `aws` feature).
    #[arg(long, value_enum, env = "KERF_CLOUD_PROVIDER", default_value = DEFAULT_CLOUD_PROVIDER)]
    pub cloud_provider: CloudProviderKind,
    /// Bind each planned pod to its node once the node is Ready (instead of
    /// leaving binding to kube-scheduler); kerf then places every unbound pod.
    #[arg(long, env = "KERF_BIND_PODS")]
    pub bind_pods: bool,
    /// With a ReplicaSet's pending pods, also plan for the replicas it has
    /// yet to create, so a scale-up gets its nodes in its first batch, and
    /// that batch does not wait for the rest of the ReplicaSet's pods
    /// (`false`: plan only for pods that exist, as Karpenter does).
    #[arg(long, env = "KERF_EXPECTED_REPLICAS", default_value_t = true, action = clap::ArgAction::Set)]
    pub expected_replicas: bool,
    /// A batch closes after this long without a new pending pod (Go duration).
    #[arg(long, env = "BATCH_IDLE_DURATION", default_value = "1s")]
    pub batch_idle_duration: String,
    /// A batch closes at the latest this long after it opened (Go duration).
    #[arg(long, env = "BATCH_MAX_DURATION", default_value = "10s")]
    pub batch_max_duration: String,
    /// A launched NodeClaim whose Node has not registered by then is deleted.
    #[arg(long, env = "KERF_REGISTRATION_TIMEOUT", default_value = "15m")]
    pub registration_timeout: String,
    /// Port of `/metrics`.
    #[arg(long, env = "METRICS_PORT", default_value_t = 8080)]
    pub metrics_port: u16,
    /// Port of `/healthz` and `/readyz`.
    #[arg(long, env = "HEALTH_PROBE_PORT", default_value_t = 8081)]
    pub health_port: u16,
    /// Kubeconfig file; without it the in-cluster service account (or $KUBECONFIG) is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Run leader election (a coordination.k8s.io Lease): with two replicas only the holder acts.
    #[arg(long, env = "LEADER_ELECT")]
    pub leader_elect: bool,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "LEADER_ELECTION_ID",
        default_value = "kerf-leader-election"
    )]
    pub leader_election_id: String,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE", default_value = "kube-system")]
    pub leader_election_namespace: String,
    /// How long a leader's Lease lasts without renewal (Go duration).
    #[arg(long, env = "LEADER_ELECTION_LEASE_DURATION", default_value = "15s")]
    pub leader_election_lease_duration: String,
    /// When a pod would leave fewer instance-type values than a pool's
    /// minValues: Strict keeps it off that node, BestEffort lowers minValues
    /// and annotates the NodeClaim.
    #[arg(long, value_enum, ignore_case = true, env = "MIN_VALUES_POLICY", default_value_t = crate::cmd::MinValuesPolicy::Strict)]
    pub min_values_policy: crate::cmd::MinValuesPolicy,
    /// Karpenter's feature gates, e.g. `SpotToSpotConsolidation=true` or
    /// `PodDeletionCostManagement=false` (on by default in kerf).
    #[arg(long, env = "FEATURE_GATES", default_value = "")]
    pub feature_gates: String,
    /// How long a disruption command waits before it is decided again and,
    /// if the answer holds, carried out (Go duration).
    #[arg(long, env = "KERF_DISRUPTION_VALIDATION_DELAY", default_value = "15s")]
    pub disruption_validation_delay: String,
    /// How often disruption looks for work when nothing is due sooner (Go duration).
    #[arg(long, env = "KERF_DISRUPTION_POLL_INTERVAL", default_value = "10s")]
    pub disruption_poll_interval: String,
    /// How long replacement nodes may take to initialize before a disruption
    /// command is rolled back (Go duration).
    #[arg(
        long,
        env = "KERF_DISRUPTION_REPLACEMENT_TIMEOUT",
        default_value = "10m"
    )]
    pub disruption_replacement_timeout: String,
    /// Instance catalogue (YAML or JSON) instead of the built-in AWS us-east-1 one.
    #[arg(long, env = "KERF_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// kwok provider: how long a launch takes before its Node appears (Go duration).
    #[arg(long, env = "KERF_KWOK_LAUNCH_DELAY", default_value = "0s")]
    pub kwok_launch_delay: String,
    /// kwok provider: how long after a launch returns its Node appears, as an
    /// instance that still boots (Go duration; 0s: at once).
    #[arg(long, env = "KERF_KWOK_REGISTRATION_DELAY", default_value = "0s")]
    pub kwok_registration_delay: String,
    /// kwok provider: offerings the simulated cloud has no capacity for, as
    /// `instance-type:zone:capacity-type` (comma-separated): a launch on one
    /// fails over as on EC2, and the offering is unavailable for 3 minutes.
    #[arg(long, env = "KERF_KWOK_INSUFFICIENT_CAPACITY", value_delimiter = ',')]
    pub kwok_insufficient_capacity: Vec<String>,
    /// kwok provider: every N-th cloud call (create, delete, get, list) fails
    /// as a throttled EC2 call does (0: never), to exercise back-off.
    #[arg(long, env = "KERF_KWOK_THROTTLE_EVERY", default_value_t = 0)]
    pub kwok_throttle_every: u64,
    /// aws provider: the region (required with `--cloud-provider aws`).
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// aws provider: one endpoint for every AWS API (a VPC endpoint, or moto in tests).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// aws provider: instance profile of node classes that name neither a role nor a profile.
    #[arg(long, env = "AWS_DEFAULT_INSTANCE_PROFILE")]
    pub aws_default_instance_profile: Option<String>,
    /// aws provider: base64 of the cluster CA bundle written into node user data
    /// (default: the CA of kerf's own Kubernetes client configuration).
    #[arg(long, env = "CLUSTER_CA_BUNDLE", default_value = "")]
    pub cluster_ca_bundle: String,
    /// aws provider: cluster DNS service IP for nodes, if not the AMI's default.
    #[arg(long, env = "CLUSTER_DNS_IP")]
    pub cluster_dns_ip: Option<String>,
    /// aws provider: the cluster's service CIDR (AL2023 node bootstrap needs it).
    #[arg(long, env = "CLUSTER_SERVICE_CIDR", default_value = "10.100.0.0/16")]
    pub cluster_service_cidr: String,
    /// aws provider: root of the SSM public parameters the EKS AMIs are published under.
    #[arg(long, env = "KERF_AWS_PUBLIC_PARAMETER_ROOT")]
    pub aws_public_parameter_root: Option<String>,
    /// aws provider: discover only these instance types (comma separated; default all).
    #[arg(long, env = "KERF_AWS_INSTANCE_TYPES", value_delimiter = ',')]
    pub aws_instance_types: Vec<String>,
    /// aws provider: SQS queue (name or URL) EventBridge sends interruption events to; none: off.
    #[arg(long, env = "INTERRUPTION_QUEUE")]
    pub interruption_queue: Option<String>,
    /// How often garbage collection looks for instances no NodeClaim knows (Go duration).
    #[arg(
        long,
        alias = "aws-gc-interval",
        env = "KERF_GC_INTERVAL",
        default_value = "2m"
    )]
    pub gc_interval: String,
    /// How old an unclaimed instance must be before it is terminated (Go duration).
    #[arg(
        long,
        alias = "aws-gc-grace-period",
        env = "KERF_GC_GRACE_PERIOD",
        default_value = "30s"
    )]
    pub gc_grace_period: String,
}

/// A configuration error: the setting and what is wrong with it.
#[derive(Debug)]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.message)
    }
}

impl From<ConfigError> for crate::cmd::CmdError {
    fn from(e: ConfigError) -> Self {
        crate::cmd::CmdError::InvalidFlag {
            flag: e.setting,
            message: e.message,
        }
    }
}

fn config_error(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

pub(super) fn duration(
    setting: &'static str,
    value: &str,
    allow_zero: bool,
) -> Result<Duration, ConfigError> {
    let d: GoDuration = value.parse().map_err(|e| {
        config_error(
            setting,
            format!("{value:?} is not a duration (e.g. 1s, 500ms): {e}"),
        )
    })?;
    let d = d
        .to_std()
        .ok_or_else(|| config_error(setting, format!("{value:?} is negative")))?;
    if d.is_zero() && !allow_zero {
        return Err(config_error(setting, "must be greater than zero"));
    }
    Ok(d)
}

/// The controller options the flags describe, or the first bad setting.
pub fn options(args: &ControllerArgs) -> Result<(ControllerOptions, Endpoints), ConfigError> {
    let cluster_name = args
        .cluster_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| config_error("--cluster-name (CLUSTER_NAME)", "is required"))?;
    let batch_idle = duration(
        "--batch-idle-duration (BATCH_IDLE_DURATION)",
        &args.batch_idle_duration,
        false,
    )?;
    let batch_max = duration(
        "--batch-max-duration (BATCH_MAX_DURATION)",
        &args.batch_max_duration,
        false,
    )?;
    if batch_max < batch_idle {
        return Err(config_error(
            "--batch-max-duration (BATCH_MAX_DURATION)",
            format!(
                "{} is shorter than --batch-idle-duration {}",
                args.batch_max_duration, args.batch_idle_duration
            ),
        ));
    }
    let registration_timeout = duration(
        "--registration-timeout (KERF_REGISTRATION_TIMEOUT)",
        &args.registration_timeout,
        false,
    )?;
    duration(
        "--kwok-launch-delay (KERF_KWOK_LAUNCH_DELAY)",
        &args.kwok_launch_delay,
        true,
    )?;
    duration(
        "--kwok-registration-delay (KERF_KWOK_REGISTRATION_DELAY)",
        &args.kwok_registration_delay,
        true,
    )?;
    kwok_insufficient_capacity(args)?;
    kwok_flags_need_kwok(args)?;
    if args.metrics_port != 0 && args.metrics_port == args.health_port {
        return Err(config_error(
            "--health-port (HEALTH_PROBE_PORT)",
            format!("{} is also the metrics port", args.health_port),
        ));
    }
    if args.cloud_provider == CloudProviderKind::Aws {
        #[cfg(feature = "aws")]
        aws_options(args, &cluster_name)?;
        #[cfg(not(feature = "aws"))]
        return Err(config_error(
            "--cloud-provider (KERF_CLOUD_PROVIDER)",
            "aws: this kerf binary was built without the `aws` feature (a kwok build); use the full build",
        ));
    }
    let leader_election = if args.leader_elect {
        let lease_duration = duration(
            "--leader-election-lease-duration (LEADER_ELECTION_LEASE_DURATION)",
            &args.leader_election_lease_duration,
            false,
        )?;
        if lease_duration < Duration::from_secs(2) {
            return Err(config_error(
                "--leader-election-lease-duration (LEADER_ELECTION_LEASE_DURATION)",
                "must be at least 2s",
            ));
        }
        if args.leader_election_id.trim().is_empty() {
            return Err(config_error(
                "--leader-election-id (LEADER_ELECTION_ID)",
                "must not be empty",
            ));
        }
        if args.leader_election_namespace.trim().is_empty() {
            return Err(config_error(
                "--leader-election-namespace (LEADER_ELECTION_NAMESPACE)",
                "must not be empty",
            ));
        }
        Some(LeaderElection {
            namespace: args.leader_election_namespace.clone(),
            name: args.leader_election_id.clone(),
            identity: identity(),
            retry: (lease_duration / 4).max(Duration::from_millis(500)),
            lease_duration,
        })
    } else {
        None
    };
    let gc_interval = duration("--gc-interval (KERF_GC_INTERVAL)", &args.gc_interval, false)?;
    let gc_grace = duration(
        "--gc-grace-period (KERF_GC_GRACE_PERIOD)",
        &args.gc_grace_period,
        true,
    )?;
    let gates: crate::cmd::feature_gates::FeatureGates =
        args.feature_gates
            .parse()
            .map_err(|e: crate::cmd::feature_gates::FeatureGateError| {
                config_error("--feature-gates (FEATURE_GATES)", e.to_string())
            })?;
    let disruption = kerf_controller::disruption::DisruptionSettings {
        validation_delay: duration(
            "--disruption-validation-delay (KERF_DISRUPTION_VALIDATION_DELAY)",
            &args.disruption_validation_delay,
            true,
        )?,
        poll: duration(
            "--disruption-poll-interval (KERF_DISRUPTION_POLL_INTERVAL)",
            &args.disruption_poll_interval,
            false,
        )?,
        replacement_timeout: duration(
            "--disruption-replacement-timeout (KERF_DISRUPTION_REPLACEMENT_TIMEOUT)",
            &args.disruption_replacement_timeout,
            false,
        )?,
        spot_to_spot: gates.spot_to_spot_consolidation,
        pod_deletion_cost: gates.pod_deletion_cost_management,
        ..Default::default()
    };
    let options = ControllerOptions {
        disruption,
        leader_election,
        gc_interval,
        gc_grace,
        cluster_name,
        bind_pods: args.bind_pods,
        expected_replicas: args.expected_replicas,
        batch_idle,
        batch_max,
        registration_timeout,
        min_values_policy: args.min_values_policy.into(),
        ..ControllerOptions::default()
    };
    let endpoints = Endpoints {
        metrics: SocketAddr::from((Ipv4Addr::UNSPECIFIED, args.metrics_port)),
        health: SocketAddr::from((Ipv4Addr::UNSPECIFIED, args.health_port)),
    };
    Ok((options, endpoints))
}

/// This replica's name in the Lease: the pod name when set, else host and pid.
fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "kerf".to_string());
    format!("{host}_{}", std::process::id())
}

/// The AWS settings the flags describe, or the first bad one.
#[cfg(feature = "aws")]
pub(super) fn aws_options(
    args: &ControllerArgs,
    cluster_name: &str,
) -> Result<kerf_aws::controllers::AwsOptions, ConfigError> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let region = non_empty(&args.aws_region).ok_or_else(|| {
        config_error(
            "--aws-region (AWS_REGION)",
            "is required with --cloud-provider aws",
        )
    })?;
    let endpoint = non_empty(&args.cluster_endpoint).ok_or_else(|| {
        config_error(
            "--cluster-endpoint (CLUSTER_ENDPOINT)",
            "is required with --cloud-provider aws",
        )
    })?;
    if !endpoint.starts_with("https://") {
        return Err(config_error(
            "--cluster-endpoint (CLUSTER_ENDPOINT)",
            format!("{endpoint:?} is not an https:// URL"),
        ));
    }
    let endpoint_url = non_empty(&args.aws_endpoint_url);
    if let Some(url) = &endpoint_url {
        crate::cmd::aws_flags::check_endpoint_url(url)
            .map_err(|why| config_error("--aws-endpoint-url (AWS_ENDPOINT_URL)", why))?;
    }
    let instance_types: Vec<String> = args
        .aws_instance_types
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    Ok(kerf_aws::controllers::AwsOptions {
        region,
        endpoint_url,
        cluster: kerf_aws::launch::user_data::ClusterInfo {
            name: cluster_name.to_string(),
            endpoint,
            ca_bundle: args.cluster_ca_bundle.clone(),
            dns_ip: non_empty(&args.cluster_dns_ip),
            service_cidr: args.cluster_service_cidr.clone(),
        },
        default_instance_profile: non_empty(&args.aws_default_instance_profile),
        public_parameter_root: non_empty(&args.aws_public_parameter_root),
        instance_types: (!instance_types.is_empty()).then_some(instance_types),
    })
}

/// The kwok provider's fault and timing flags act on the kwok provider only:
/// set with another provider they are refused, naming the flag, rather than
/// accepted and ignored.
fn kwok_flags_need_kwok(args: &ControllerArgs) -> Result<(), ConfigError> {
    if args.cloud_provider == CloudProviderKind::Kwok {
        return Ok(());
    }
    let set = [
        (
            "--kwok-launch-delay (KERF_KWOK_LAUNCH_DELAY)",
            !duration("--kwok-launch-delay", &args.kwok_launch_delay, true)?.is_zero(),
        ),
        (
            "--kwok-registration-delay (KERF_KWOK_REGISTRATION_DELAY)",
            !duration(
                "--kwok-registration-delay",
                &args.kwok_registration_delay,
                true,
            )?
            .is_zero(),
        ),
        (
            "--kwok-insufficient-capacity (KERF_KWOK_INSUFFICIENT_CAPACITY)",
            args.kwok_insufficient_capacity
                .iter()
                .any(|e| !e.trim().is_empty()),
        ),
        (
            "--kwok-throttle-every (KERF_KWOK_THROTTLE_EVERY)",
            args.kwok_throttle_every != 0,
        ),
    ];
    match set.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(config_error(
            flag,
            "acts on the kwok provider only (--cloud-provider kwok)",
        )),
        None => Ok(()),
    }
}

/// `--kwok-insufficient-capacity` as offerings; an entry not of the form
/// `instance-type:zone:capacity-type` is refused, naming it.
pub fn kwok_insufficient_capacity(
    args: &ControllerArgs,
) -> Result<Vec<kerf_cloud::OfferingKey>, ConfigError> {
    args.kwok_insufficient_capacity
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.trim().split(':').collect();
            match parts.as_slice() {
                [t, z, c] if !t.is_empty() && !z.is_empty() && !c.is_empty() => {
                    Ok(kerf_cloud::OfferingKey::new(*t, *z, *c))
                }
                _ => Err(config_error(
                    "--kwok-insufficient-capacity (KERF_KWOK_INSUFFICIENT_CAPACITY)",
                    format!("{entry:?} is not instance-type:zone:capacity-type"),
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ControllerArgs,
    }

    fn parse(argv: &[&str]) -> Result<(ControllerOptions, Endpoints), ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("kerf").chain(argv.iter().copied()))
            .expect("flags parse");
        options(&cli.args)
    }

    /// `parse` with the kwok provider, for settings that do not depend on it.
    fn parse_kwok(argv: &[&str]) -> Result<(ControllerOptions, Endpoints), ConfigError> {
        let with_kwok: Vec<&str> = ["--cloud-provider", "kwok"]
            .into_iter()
            .chain(argv.iter().copied())
            .collect();
        parse(&with_kwok)
    }

    #[test]
    fn kwok_flags_with_another_provider_are_refused_naming_the_flag() {
        for flag in [
            "--kwok-throttle-every=3",
            "--kwok-launch-delay=2s",
            "--kwok-registration-delay=1s",
            "--kwok-insufficient-capacity=m5.large:us-east-1a:spot",
        ] {
            let err = parse(&["--cluster-name", "c", "--cloud-provider", "memory", flag])
                .expect_err(flag);
            let name = flag.split('=').next().unwrap_or(flag);
            assert!(
                err.to_string().contains(name) && err.to_string().contains("kwok provider only"),
                "{flag}: {err}"
            );
            assert!(parse_kwok(&["--cluster-name", "c", flag]).is_ok(), "{flag}");
        }
        assert!(
            parse(&[
                "--cluster-name",
                "c",
                "--cloud-provider",
                "memory",
                "--kwok-launch-delay=0"
            ])
            .is_ok(),
            "a zero delay is the default"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let err = parse_kwok(&[]).unwrap_err();
        assert!(err.to_string().contains("--cluster-name"), "{err}");
        let err =
            parse_kwok(&["--cluster-name", "c", "--batch-idle-duration", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--batch-idle-duration"), "{err}");
        let err =
            parse_kwok(&["--cluster-name", "c", "--batch-max-duration", "500ms"]).unwrap_err();
        assert!(err.to_string().contains("--batch-max-duration"), "{err}");
        let err = parse_kwok(&["--cluster-name", "c", "--health-port", "8080"]).unwrap_err();
        assert!(err.to_string().contains("--health-port"), "{err}");
        let err =
            parse_kwok(&["--cluster-name", "c", "--kwok-registration-delay=soon"]).unwrap_err();
        assert!(
            err.to_string().contains("--kwok-registration-delay"),
            "{err}"
        );
        let err = parse_kwok(&[
            "--cluster-name",
            "c",
            "--kwok-insufficient-capacity",
            "m5.large:us-east-1a:spot,m5.large:us-east-1a",
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("--kwok-insufficient-capacity")
                && err.to_string().contains("\"m5.large:us-east-1a\""),
            "{err}"
        );
        let (o, e) = parse_kwok(&[
            "--cluster-name",
            "c",
            "--bind-pods",
            "--batch-idle-duration",
            "2s",
        ])
        .unwrap();
        assert!(o.bind_pods);
        assert_eq!(o.batch_idle, Duration::from_secs(2));
        assert_eq!(o.batch_max, Duration::from_secs(10));
        assert_eq!(e.health.port(), 8081);
    }

    #[test]
    fn garbage_collection_settings_default_like_karpenter_and_bad_ones_are_named() {
        let (o, _) = parse_kwok(&["--cluster-name", "c"]).unwrap();
        assert_eq!(o.gc_interval, Duration::from_secs(120));
        assert_eq!(o.gc_grace, Duration::from_secs(30));
        // The names of the AWS-only loop it replaced still work.
        let (o, _) = parse_kwok(&["--cluster-name", "c", "--aws-gc-grace-period", "3s"]).unwrap();
        assert_eq!(o.gc_grace, Duration::from_secs(3));
        let err = parse_kwok(&["--cluster-name", "c", "--gc-interval", "0s"]).unwrap_err();
        assert!(err.to_string().contains("--gc-interval"), "{err}");
        let err = parse_kwok(&["--cluster-name", "c", "--gc-grace-period", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--gc-grace-period"), "{err}");
    }

    #[test]
    fn the_leader_election_lease_is_named_by_its_setting() {
        let (o, _) = parse_kwok(&["--cluster-name", "c", "--leader-elect"]).unwrap();
        assert_eq!(o.leader_election.unwrap().name, "kerf-leader-election");
        let (o, _) = parse_kwok(&[
            "--cluster-name",
            "c",
            "--leader-elect",
            "--leader-election-id",
            "karpenter-leader-election",
        ])
        .unwrap();
        assert_eq!(o.leader_election.unwrap().name, "karpenter-leader-election");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn aws_is_the_default_provider_of_the_full_build() {
        let err = parse(&["--cluster-name", "c"]).unwrap_err();
        assert!(err.to_string().contains("--aws-region"), "{err}");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn aws_settings_are_checked_before_start() {
        let aws = ["--cluster-name", "c", "--cloud-provider", "aws"];
        let err = parse(&aws).unwrap_err();
        assert!(err.to_string().contains("--aws-region"), "{err}");
        let with_region = [&aws[..], &["--aws-region", "us-east-1"]].concat();
        let err = parse(&with_region).unwrap_err();
        assert!(err.to_string().contains("--cluster-endpoint"), "{err}");
        let plain_http = [&with_region[..], &["--cluster-endpoint", "http://x"]].concat();
        let err = parse(&plain_http).unwrap_err();
        assert!(err.to_string().contains("https://"), "{err}");
        let ok = [&with_region[..], &["--cluster-endpoint", "https://x"]].concat();
        assert!(parse(&ok).is_ok());
    }
    #[cfg(not(feature = "aws"))]
    #[test]
    fn aws_is_refused_by_a_kwok_build() {
        let err = parse(&["--cluster-name", "c", "--cloud-provider", "aws"]).unwrap_err();
        assert!(err.to_string().contains("--cloud-provider"), "{err}");
        assert!(err.to_string().contains("`aws` feature"), "{err}");
    }
}
