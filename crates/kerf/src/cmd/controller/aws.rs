//! `--cloud-provider aws`: the flags the AWS parts need, handed to
//! `kerf_aws::controllers`, which owns the provider as the controller runs it
//! and the AWS loops (interruption, node-class status) with their events and
//! metrics.

/// The interruption queue the flags name (a name or a URL); `None`, so
/// interruption handling off, when unset or blank.
fn interruption_queue(args: &super::ControllerArgs) -> Option<&str> {
    args.interruption_queue
        .as_deref()
        .filter(|q| !q.trim().is_empty())
}

/// `kerf controller --cloud-provider aws`: the provider, kerf-controller's
/// loops and the AWS ones on one context. Returns the exit code (2: bad setting).
pub async fn run(
    args: &super::ControllerArgs,
    options: kerf_controller::ControllerOptions,
    client: kube::Client,
    endpoints: kerf_controller::Endpoints,
) -> i32 {
    let setup = async {
        let aws = super::aws_options(args, &options.cluster_name)?;
        kerf_aws::controllers::setup(&aws, interruption_queue(args), &client)
            .await
            .map_err(|e| crate::cmd::CmdError::failed("setting up the AWS provider")(Box::new(e)))
    };
    let setup = match setup.await {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("kerf controller: {e}");
            return 2;
        }
    };
    match kerf_aws::controllers::run(setup, options, client, endpoints).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kerf controller: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::super::ControllerArgs,
    }

    fn queue(argv: &[&str]) -> Option<String> {
        let cli = Cli::try_parse_from(std::iter::once("kerf").chain(argv.iter().copied())).unwrap();
        super::interruption_queue(&cli.args).map(str::to_string)
    }

    #[test]
    fn the_interruption_queue_is_off_unless_named() {
        assert_eq!(queue(&[]), None);
        assert_eq!(queue(&["--interruption-queue", " "]), None);
        assert_eq!(
            queue(&["--interruption-queue", "kerf-q"]).as_deref(),
            Some("kerf-q")
        );
    }
}
