//! `kerf addon install | uninstall | render`: kerf as an EKS add-on in one command, over the
//! library API of kerf-addon (`Cluster::builder()...add_on(KarpenterAddOn)`). One progress
//! line per step on stdout; exit 0 on success, 1 when a step fails (the error names it and
//! what is already in place: re-running resumes), 2 on bad flags.

use std::io::Write;
use std::path::PathBuf;

use kerf_addon::AddonError;
use kerf_addon::addon::{Cluster, KarpenterAddOn};
use kerf_addon::progress::{Printed, StepOutcome};
use kerf_addon::requirements::RequirementsMap;

use super::CmdError;

/// Install, remove or print kerf as an add-on of an EKS cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct AddonArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum Action {
    /// Create (idempotently) the AWS resources, then the namespace, the chart and the default Provisioner.
    Install(Flags),
    /// Remove what install created, and nothing else.
    Uninstall(Flags),
    /// Print the IAM documents, a CloudFormation template and the Kubernetes manifests; touch nothing.
    Render(Flags),
}

#[derive(clap::Args, Debug, Clone)]
pub struct Flags {
    /// The EKS cluster's name.
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Override every AWS endpoint (a VPC endpoint; moto in tests).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Refuse to run unless the credentials are for this account.
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// A requirement of the default Provisioner, `key=v1,v2` (repeatable); none: no default Provisioner.
    #[arg(long = "requirement")]
    pub requirements: Vec<String>,
    /// A YAML map of requirement key to values, for the default Provisioner.
    #[arg(long)]
    pub requirements_file: Option<PathBuf>,
    /// No interruption queue, rules or SQS permissions.
    #[arg(long)]
    pub no_interruption: bool,
    /// Tag the cluster's subnets and security groups for discovery.
    #[arg(long)]
    pub tag_subnets: bool,
    /// Only the AWS side.
    #[arg(long)]
    pub skip_cluster_side: bool,
    #[arg(long, default_value = "karpenter")]
    pub namespace: String,
    #[arg(long, default_value = "helm")]
    pub helm: PathBuf,
    /// An extra chart value, `key=value` (repeatable).
    #[arg(long = "set")]
    pub values: Vec<String>,
    /// The API server endpoint to render with (install reads it from EKS).
    #[arg(long)]
    pub cluster_endpoint: Option<String>,
}

/// Input the add-on library refused; its error names the flag or file.
fn invalid(e: AddonError) -> CmdError {
    CmdError::InvalidInput(Box::new(e))
}

fn cluster(f: &Flags) -> Result<Cluster, CmdError> {
    if let Some(e) = kerf_addon::addon::region_error(&f.region) {
        return Err(CmdError::invalid_flag("--region", e));
    }
    if let Some(e) = kerf_addon::addon::namespace_error(&f.namespace) {
        return Err(CmdError::invalid_flag("--namespace", e));
    }
    let mut map = RequirementsMap::from_flags(&f.requirements).map_err(invalid)?;
    if let Some(path) = &f.requirements_file {
        for r in RequirementsMap::from_file(path).map_err(invalid)?.entries() {
            map.push(r.clone(), &path.display().to_string())
                .map_err(invalid)?;
        }
    }
    let mut addon = KarpenterAddOn::builder()
        .interruption(!f.no_interruption)
        .tag_subnets(f.tag_subnets)
        .skip_cluster_side(f.skip_cluster_side)
        .namespace(&f.namespace)
        .helm(&f.helm);
    if !map.is_empty() {
        addon = addon.default_provisioner_map(&map);
    }
    for v in &f.values {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| CmdError::invalid_flag("--set", format!("{v:?}: expected key=value")))?;
        addon = addon.set(k, val);
    }
    let mut b = Cluster::builder()
        .name(&f.cluster_name)
        .region(&f.region)
        .add_on(addon.build().map_err(invalid)?);
    if let Some(url) = &f.aws_endpoint_url {
        b = b.aws_endpoint_url(url);
    }
    if let Some(a) = &f.account {
        b = b.account(a);
    }
    if let Some(k) = &f.kubeconfig {
        b = b.kubeconfig(k);
    }
    if let Some(e) = &f.cluster_endpoint {
        b = b.endpoint(e);
    }
    b.build().map_err(invalid)
}

pub fn run(args: AddonArgs) -> i32 {
    let (verb, flags) = match &args.action {
        Action::Install(f) => ("install", f),
        Action::Uninstall(f) => ("uninstall", f),
        Action::Render(f) => ("render", f),
    };
    let cluster = match cluster(flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kerf addon {verb}: {e}");
            return e.exit_code();
        }
    };
    if let Action::Render(_) = args.action {
        return match render(&cluster) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("kerf addon render: {e}");
                e.exit_code()
            }
        };
    }
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kerf addon {verb}: {e}");
            return 1;
        }
    };
    let mut progress = Shown {
        lines: Printed {
            out: std::io::stdout(),
        },
        spinner: super::progress::Progress::start(match args.action {
            Action::Install(_) => "addon install",
            _ => "addon uninstall",
        }),
    };
    let result = rt.block_on(async {
        match args.action {
            Action::Install(_) => cluster.install(&mut progress).await.map(|_| ()),
            _ => cluster.uninstall(&mut progress).await,
        }
    });
    progress.spinner.finish();
    match result {
        Ok(()) => 0,
        // The error names the step that failed and what is already in place.
        Err(e) => {
            eprintln!("kerf addon {verb}: {e}");
            1
        }
    }
}

/// A line per finished step on stdout and, while a step runs (the Helm
/// release waits minutes for its pods), the step's name on a progress line on
/// stderr when that is a terminal.
struct Shown {
    lines: Printed<std::io::Stdout>,
    spinner: super::progress::Progress,
}

impl kerf_addon::progress::Progress for Shown {
    fn started(&mut self, step: &str, resource: &str) {
        self.spinner.stage(format!("{step} {resource}"));
    }

    fn step(&mut self, step: &str, resource: &str, outcome: &StepOutcome) {
        self.spinner
            .suspend(|| self.lines.step(step, resource, outcome));
    }
}

fn render(cluster: &Cluster) -> Result<(), CmdError> {
    let rendering = |e: AddonError| CmdError::failed("rendering")(Box::new(e));
    let rendered = cluster.render().map_err(rendering)?;
    let documents = rendered.aws.to_text().map_err(rendering)?;
    print_rendered(&documents, rendered.manifests.as_deref())
        .map_err(|e| CmdError::failed("writing to stdout")(Box::new(e)))
}

fn print_rendered(documents: &str, manifests: Option<&str>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(documents.as_bytes())?;
    if let Some(manifests) = manifests {
        writeln!(out, "# Kubernetes manifests")?;
        out.write_all(manifests.as_bytes())?;
    }
    Ok(())
}
