//! `kerf top`: the fleet live in the terminal, in the manner of
//! eks-node-viewer: one row per node (pool, type, zone, capacity type, $/h,
//! age, pods, CPU and memory requested against allocatable), the cost in $/h
//! and $/month, pending pods and in-flight NodeClaims. The cluster is
//! watched ([`live`]), the rows computed by a pure function over what the
//! watches hold ([`view`]) and drawn by [`tui`], or printed once as text
//! ([`table`], `--once`). Prices come from the catalogue `kerf simulate` and
//! `kerf explain` use, or with `--aws` from AWS ([`prices`]). Exit codes: 0
//! done; 1 the cluster could not be read; 2 a bad flag.

pub mod live;
pub mod prices;
pub mod table;
pub mod tui;
pub mod view;
#[cfg(test)]
mod view_tests;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::CmdError;
use prices::Pricing;
use view::{SortKey, ViewOptions, fleet_view};

/// How long `--once` waits for the first list of every kind.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Watch the fleet: nodes, their cost and use, pending pods, in-flight NodeClaims.
#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// The cluster's kubeconfig (default: as kubectl finds it).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Instance catalogue (YAML or JSON) to price nodes by, instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Price nodes at the region's current AWS prices, read once at start:
    /// on-demand from the Pricing API and spot from the spot price history
    /// (credentials as the AWS SDK finds them), where AWS answers; the
    /// catalogue's prices elsewhere. The line under the totals says which.
    #[cfg(feature = "aws")]
    #[arg(long)]
    aws: bool,
    #[cfg(feature = "aws")]
    #[command(flatten)]
    aws_endpoint: super::aws_flags::AwsEndpoint,
    /// Row order (`s` cycles it in the terminal).
    #[arg(long, value_enum, default_value_t = SortKey::Price)]
    sort: SortKey,
    /// Show only this pool's nodes and NodeClaims (NodePool or Provisioner
    /// name); repeat for several.
    #[arg(long = "pool", value_name = "NAME")]
    pools: Vec<String>,
    /// Print the fleet once as plain text and exit (for scripts).
    #[arg(long)]
    once: bool,
}

pub fn run(args: TopArgs) -> i32 {
    match top(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn top(args: TopArgs) -> Result<(), CmdError> {
    let pricing = Pricing::catalogue(args.catalog.as_deref())?;
    #[cfg(feature = "aws")]
    args.aws_endpoint.refuse_without_aws(args.aws)?;
    if !args.once && !std::io::stdout().is_terminal() {
        return Err(CmdError::FlagCombination(
            "kerf top draws on a terminal and stdout is not one: use --once for text",
        ));
    }
    let options = ViewOptions {
        sort: args.sort,
        pools: args.pools,
    };
    super::runtime()?.block_on(async {
        let config = super::kube_config(args.kubeconfig.as_deref()).await?;
        let client = kube::Client::try_from(config)
            .map_err(|e| CmdError::failed("building the Kubernetes client")(Box::new(e)))?;
        // The watches list the cluster while AWS is asked for prices.
        let mut fleet = live::Fleet::watch(&client);
        #[cfg(feature = "aws")]
        let pricing = if args.aws {
            pricing.with_current_aws_prices(&args.aws_endpoint).await?
        } else {
            pricing
        };
        if args.once {
            fleet
                .ready(LIST_TIMEOUT)
                .await
                .map_err(|e| CmdError::failed("reading the cluster")(e.into()))?;
            let view = fleet_view(
                &fleet.snapshot(kerf_sim::Timestamp::now()),
                &pricing.catalog,
                &options,
            );
            print!("{}", table::render(&view));
            println!("prices: {}", pricing.source);
            Ok(())
        } else {
            tui::run(&mut fleet, &pricing, options).await
        }
    })
}
