//! `--cloud-provider aws`: the flags the AWS parts need, handed to
//! `kerf_aws::controllers`, which owns the provider as the controller runs it
//! and the AWS loops (interruption, node-class status) with their events and
//! metrics.

/// The AWS loops' settings from the flags.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    pub interruption_queue: Option<String>,
}

pub fn loop_options(
    args: &super::ControllerArgs,
) -> std::result::Result<LoopOptions, super::ConfigError> {
    Ok(LoopOptions {
        interruption_queue: args
            .interruption_queue
            .clone()
            .filter(|q| !q.trim().is_empty()),
    })
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
        let loops = loop_options(args)?;
        kerf_aws::controllers::setup(&aws, loops.interruption_queue.as_deref(), &client)
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

    fn parse(argv: &[&str]) -> Result<super::LoopOptions, super::super::ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("kerf").chain(argv.iter().copied())).unwrap();
        super::loop_options(&cli.args)
    }

    #[test]
    fn the_interruption_queue_is_off_unless_named() {
        assert_eq!(parse(&[]).unwrap().interruption_queue, None);
        assert_eq!(
            parse(&["--interruption-queue", " "])
                .unwrap()
                .interruption_queue,
            None
        );
        let o = parse(&["--interruption-queue", "kerf-q"]).unwrap();
        assert_eq!(o.interruption_queue.as_deref(), Some("kerf-q"));
    }
}
