//! `kerf explain pod NAMESPACE/NAME --from FILE|DIR ...`: why the plan put a
//! pod where it did, or nowhere: per pool, the funnel of instance types each
//! constraint leaves and the first that left none, in words a person can act
//! on. `kerf explain node NAME --from ...`: what disruption does with a node
//! (the command that removes it) or what keeps it. Exit codes: 0 explained;
//! 2 bad input (or no such pod or node); 3 internal failure.

use std::fmt::Write as _;
use std::path::PathBuf;

use kerf_core::disruption::DisruptionOptions;
use kerf_core::explain::{PodExplanation, PoolFunnel, Verdict};
use kerf_core::plan::InstanceOption;
use kerf_core::pod::PodKey;
use kerf_sim::explain::{NodeExplanation, NodeOutcome};
use kerf_sim::{DisruptionRun, Format, SimulateOptions};

#[cfg(feature = "aws")]
use super::aws_flags::{AwsEndpoint, or_env};
use super::feature_gates::FeatureGates;
use super::simulate::Output;

/// Explain a decision kerf makes.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Why a pod is placed where it is, or is unschedulable, as `kerf
    /// simulate` plans the manifests or the live cluster.
    Pod(PodArgs),
    /// What disruption does with a node, or what keeps it, as `kerf simulate
    /// --disruption` runs over the manifests or the live cluster.
    Node(NodeArgs),
}

#[derive(clap::Args, Debug)]
struct PodArgs {
    /// The pod, as NAMESPACE/NAME (NAME alone is in `default`).
    #[arg(value_name = "NAMESPACE/NAME")]
    pod: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
struct NodeArgs {
    /// The Node's name.
    node: String,
    #[command(flatten)]
    common: Common,
    /// Karpenter feature gates, as for `kerf simulate` (SpotToSpotConsolidation).
    #[arg(long, value_name = "NAME=BOOL,...", default_value = "")]
    feature_gates: FeatureGates,
}

/// What both subcommands take: where the cluster comes from (manifests, or
/// the live cluster), the catalogue that prices it, and the output format.
#[derive(clap::Args, Debug)]
struct Common {
    /// Manifests, as for `kerf simulate` (a `kubectl get ... -o yaml` dump
    /// included); without it, the cluster kubectl would talk to.
    #[arg(long = "from", value_name = "FILE|DIR")]
    from: Vec<PathBuf>,
    /// The live cluster's kubeconfig (default: as kubectl finds it).
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "FILE", conflicts_with = "from")]
    kubeconfig: Option<PathBuf>,
    /// Instance catalogue (YAML or JSON) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// The live cluster's pools get the instance types, prices and zones AWS
    /// offers their EC2NodeClasses, as `kerf controller --cloud-provider aws`
    /// sees them (AWS credentials and region as the SDK finds them), instead
    /// of the built-in catalogue.
    #[cfg(feature = "aws")]
    #[arg(long, conflicts_with_all = ["from", "catalog"])]
    aws: bool,
    #[cfg(feature = "aws")]
    #[command(flatten)]
    aws_flags: AwsFlags,
    /// As the controller's `--min-values-policy` (the chart's
    /// settings.minValuesPolicy): explain what that controller would do.
    #[arg(long, value_enum, ignore_case = true, default_value_t = super::MinValuesPolicy::Strict)]
    min_values_policy: super::MinValuesPolicy,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// Where `--aws` finds AWS: the region and endpoint ([`AwsEndpoint`]) and
/// two flags of `kerf controller` that shape what the provider discovers.
#[cfg(feature = "aws")]
#[derive(clap::Args, Debug)]
struct AwsFlags {
    #[command(flatten)]
    endpoint: AwsEndpoint,
    /// With --aws: the root of the public SSM parameters the EKS AMIs are
    /// published under (default: KERF_AWS_PUBLIC_PARAMETER_ROOT, else AWS's).
    #[arg(long)]
    aws_public_parameter_root: Option<String>,
    /// With --aws: only these instance types, comma-separated (default:
    /// KERF_AWS_INSTANCE_TYPES, else every type).
    #[arg(long, value_delimiter = ',')]
    aws_instance_types: Option<Vec<String>>,
}

#[cfg(feature = "aws")]
impl AwsFlags {
    /// The first flag given, by name.
    fn first_given(&self) -> Option<&'static str> {
        self.endpoint.first_given().or_else(|| {
            [
                (
                    "--aws-public-parameter-root",
                    self.aws_public_parameter_root.is_some(),
                ),
                ("--aws-instance-types", self.aws_instance_types.is_some()),
            ]
            .into_iter()
            .find_map(|(flag, given)| given.then_some(flag))
        })
    }
}

impl Common {
    fn solve(&self) -> kerf_core::snapshot::SolveOptions {
        kerf_core::snapshot::SolveOptions {
            min_values_policy: self.min_values_policy.into(),
            ..Default::default()
        }
    }
}

pub fn run(args: ExplainArgs) -> i32 {
    match args.what {
        What::Pod(args) => {
            let key = match parse_pod(&args.pod) {
                Ok(key) => key,
                Err(e) => {
                    eprintln!("error: {e}");
                    return e.exit_code();
                }
            };
            let solve = args.common.solve();
            answer(&args.common, render, |state, cloud| async move {
                kerf_sim::explain::explain_state(&state, cloud.as_ref(), &solve, &key).await
            })
        }
        What::Node(args) => {
            // The one clock read, as in `kerf simulate --disruption`.
            let run = DisruptionRun {
                now: kerf_sim::Timestamp::now(),
                options: DisruptionOptions {
                    spot_to_spot: args.feature_gates.spot_to_spot_consolidation,
                },
            };
            let node = args.node;
            let solve = args.common.solve();
            answer(&args.common, render_node, |state, cloud| async move {
                kerf_sim::explain::explain_node_state(&state, cloud.as_ref(), &solve, &run, &node)
                    .await
            })
        }
    }
}

/// Reads the cluster, explains it with `explain`, and prints the answer in
/// the chosen format; the exit code.
fn answer<T, F, Fut>(common: &Common, render: fn(&T) -> String, explain: F) -> i32
where
    T: serde::Serialize,
    F: FnOnce(kerf_state::ClusterState, Box<dyn kerf_cloud::CloudProvider>) -> Fut,
    Fut: std::future::Future<Output = Result<T, kerf_sim::SimError>>,
{
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    let explained = runtime.block_on(async {
        let (state, cloud) = read(common).await?;
        explain(state, cloud).await.map_err(Failure::from)
    });
    let explained = match explained {
        Ok(e) => e,
        Err(e) => return e.report(),
    };
    let text = match common.output {
        Output::Table => Ok(render(&explained)),
        Output::Json => kerf_sim::render_data(&explained, Format::Json),
        Output::Yaml => kerf_sim::render_data(&explained, Format::Yaml),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => Failure::from(e).report(),
    }
}

/// The node's explanation for a person.
pub fn render_node(e: &NodeExplanation) -> String {
    match &e.outcome {
        NodeOutcome::NotManaged => format!(
            "node {}: not managed by kerf (no NodePool or Provisioner); disruption never touches it\n",
            e.node
        ),
        NodeOutcome::Kept { reason } => format!("node {}: kept: {reason}\n", e.node),
        NodeOutcome::Disrupted { round, command } => {
            let mut out = format!(
                "node {}: removed by command {round}: {} ({})\n",
                e.node, command.method, command.reason
            );
            let others: Vec<&str> = command
                .candidates
                .iter()
                .filter(|n| **n != e.node)
                .map(String::as_str)
                .collect();
            if !others.is_empty() {
                let _ = writeln!(out, "  together with {}", others.join(", "));
            }
            for r in &command.replacements {
                let _ = writeln!(out, "  launching {}", offer(&r.node.chosen));
            }
            let _ = writeln!(
                out,
                "  ${:.4}/h -> ${:.4}/h, saving ${:.4}/h",
                command.price_before,
                command.price_after,
                command.savings_per_hour()
            );
            out
        }
    }
}

/// Why reading the cluster or explaining failed, with its exit code.
enum Failure {
    Sim(kerf_sim::SimError),
    #[cfg(feature = "cluster")]
    Cmd(super::CmdError),
}

impl From<kerf_sim::SimError> for Failure {
    fn from(e: kerf_sim::SimError) -> Self {
        Failure::Sim(e)
    }
}

impl Failure {
    fn report(self) -> i32 {
        match self {
            Failure::Sim(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
            #[cfg(feature = "cluster")]
            Failure::Cmd(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        }
    }
}

/// The cluster state to explain, from manifests or the live cluster, and the
/// cloud that sells its instance types: the in-memory cloud over the
/// catalogue, or with `--aws` the AWS provider.
async fn read(
    common: &Common,
) -> Result<(kerf_state::ClusterState, Box<dyn kerf_cloud::CloudProvider>), Failure> {
    #[cfg(feature = "aws")]
    if !common.aws
        && let Some(flag) = common.aws_flags.first_given()
    {
        return Err(Failure::Cmd(super::CmdError::invalid_flag(
            flag,
            "only means something with --aws",
        )));
    }
    if !common.from.is_empty() {
        let options = SimulateOptions {
            paths: common.from.clone(),
            catalog: common.catalog.clone(),
            ..SimulateOptions::default()
        };
        let (state, cloud) = kerf_sim::load_input(&options)?;
        return Ok((state, Box::new(cloud)));
    }
    let catalogue: Box<dyn kerf_cloud::CloudProvider> =
        Box::new(kerf_sim::cloud(common.catalog.as_deref())?);
    #[cfg(feature = "cluster")]
    {
        let config = super::kube_config(common.kubeconfig.as_deref())
            .await
            .map_err(Failure::Cmd)?;
        let client = kube::Client::try_from(config).map_err(|e| {
            Failure::Cmd(super::CmdError::failed("building the Kubernetes client")(
                Box::new(e),
            ))
        })?;
        let (state, problems) = kerf_controller::watch::list_all(&client)
            .await
            .map_err(|e| {
                Failure::Cmd(super::CmdError::failed("reading the cluster")(Box::new(e)))
            })?;
        for problem in problems {
            eprintln!("warning: left out: {problem}");
        }
        #[cfg(feature = "aws")]
        if common.aws {
            return Ok((state, aws_cloud(&common.aws_flags, &client).await?));
        }
        Ok((state, catalogue))
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = catalogue;
        Err(Failure::Sim(kerf_sim::SimError::Inconsistent(
            "--from is required: this kerf is built without the Kubernetes client (feature `cluster`)".into(),
        )))
    }
}

/// The AWS provider as the controller builds it, for pricing only: nothing
/// is launched, so the cluster fields the user data needs stay empty.
#[cfg(feature = "aws")]
async fn aws_cloud(
    flags: &AwsFlags,
    client: &kube::Client,
) -> Result<Box<dyn kerf_cloud::CloudProvider>, Failure> {
    let region = flags.endpoint.region().map_err(Failure::Cmd)?;
    let instance_types = flags.aws_instance_types.clone().or_else(|| {
        or_env(&None, "KERF_AWS_INSTANCE_TYPES")
            .map(|v| v.split(',').map(|t| t.trim().to_string()).collect())
    });
    let options = kerf_aws::controllers::AwsOptions {
        region,
        endpoint_url: flags.endpoint.endpoint_url().map_err(Failure::Cmd)?,
        cluster: kerf_aws::launch::user_data::ClusterInfo {
            name: String::new(),
            endpoint: String::new(),
            ca_bundle: String::new(),
            dns_ip: None,
            service_cidr: String::new(),
        },
        default_instance_profile: None,
        public_parameter_root: or_env(
            &flags.aws_public_parameter_root,
            "KERF_AWS_PUBLIC_PARAMETER_ROOT",
        ),
        instance_types,
    };
    let cloud = kerf_aws::controllers::build(&options, client)
        .await
        .map_err(|e| {
            Failure::Cmd(super::CmdError::failed("setting up the AWS provider")(
                Box::new(e),
            ))
        })?;
    Ok(Box::new(cloud))
}

fn parse_pod(s: &str) -> Result<PodKey, super::CmdError> {
    let (namespace, name) = s.split_once('/').unwrap_or(("default", s));
    if namespace.is_empty() || name.is_empty() || name.contains('/') {
        return Err(super::CmdError::InvalidArgument {
            what: "pod",
            value: s.to_string(),
            message: "expected NAMESPACE/NAME or NAME (in default)",
        });
    }
    Ok(PodKey {
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}

fn offer(o: &InstanceOption) -> String {
    format!(
        "{} {} {} ${:.4}/h",
        o.instance_type, o.capacity_type, o.zone, o.price
    )
}

/// The explanation for a person.
pub fn render(e: &PodExplanation) -> String {
    let mut out = String::new();
    let _ = match &e.verdict {
        Verdict::Existing { node, about } => {
            writeln!(
                out,
                "pod {}: placed on existing node {node} ({about})",
                e.pod
            )
        }
        Verdict::New {
            node,
            pool,
            chosen,
            alternatives,
        } => {
            let next: Vec<String> = alternatives.iter().map(offer).collect();
            writeln!(
                out,
                "pod {}: placed on new node {node} ({pool}): {}{}",
                e.pod,
                offer(chosen),
                if next.is_empty() {
                    String::new()
                } else {
                    format!("; next cheapest for the node's pods: {}", next.join(", "))
                }
            )
        }
        Verdict::Unschedulable { reason } => {
            writeln!(out, "pod {}: unschedulable: {reason}", e.pod)
        }
        Verdict::NotPending => writeln!(
            out,
            "pod {}: not one kerf places (a daemonset or mirror pod)",
            e.pod
        ),
    };
    for pool in &e.pools {
        render_pool(&mut out, pool);
    }
    out
}

fn render_pool(out: &mut String, pool: &PoolFunnel) {
    let _ = writeln!(out, "\n{}:", pool.pool);
    let width = pool
        .steps
        .iter()
        .map(|s| s.left.to_string().len())
        .max()
        .unwrap_or(1);
    for (i, step) in pool.steps.iter().enumerate() {
        let arrow = if i == 0 { " " } else { "→" };
        let _ = writeln!(out, "  {arrow} {:>width$}  {}", step.left, step.constraint);
    }
    if let Some(why) = &pool.emptied_by {
        let _ = writeln!(out, "  no instance type left: {why}");
    }
    for from in &pool.requirement_from {
        let _ = writeln!(out, "  {from}");
    }
    if let Some(best) = &pool.best {
        let _ = writeln!(out, "  cheapest fit: {}", offer(best));
    }
    let label = if pool.best.is_some() {
        "cheaper, but"
    } else {
        "cheapest of the pool, but"
    };
    for lost in &pool.cheaper_lost {
        let _ = writeln!(
            out,
            "  {label} out at {}: {} ${:.4}/h",
            lost.lost_to, lost.instance_type, lost.price
        );
    }
}
