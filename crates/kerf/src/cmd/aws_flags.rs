//! Where the read-only commands (`kerf explain --aws`, `kerf top --aws`) find
//! AWS: the region and endpoint flags of `kerf controller`, each also read
//! from its variable when the flag is absent, so a variable set for other
//! tools is no error without `--aws`. Given without `--aws` the flags are
//! refused, since nothing would read them.

use super::CmdError;

/// `--aws-region` and `--aws-endpoint-url`.
#[derive(clap::Args, Debug, Default)]
pub struct AwsEndpoint {
    /// With --aws: the region (default: AWS_REGION).
    #[arg(long)]
    pub aws_region: Option<String>,
    /// With --aws: an endpoint for every AWS service, an emulator or a VPC
    /// endpoint (default: AWS_ENDPOINT_URL).
    #[arg(long)]
    pub aws_endpoint_url: Option<String>,
}

impl AwsEndpoint {
    /// The first flag given, by name (a clap `requires` on a `--aws` switch is
    /// always met, as the switch has a default).
    pub fn first_given(&self) -> Option<&'static str> {
        [
            ("--aws-region", self.aws_region.is_some()),
            ("--aws-endpoint-url", self.aws_endpoint_url.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }

    /// Refuses these flags when `--aws` is off.
    pub fn refuse_without_aws(&self, aws: bool) -> Result<(), CmdError> {
        match self.first_given() {
            Some(flag) if !aws => Err(CmdError::invalid_flag(
                flag,
                "only means something with --aws",
            )),
            _ => Ok(()),
        }
    }

    /// The region: the flag, else AWS_REGION.
    pub fn region(&self) -> Result<String, CmdError> {
        or_env(&self.aws_region, "AWS_REGION").ok_or_else(|| {
            CmdError::invalid_flag(
                "--aws-region (AWS_REGION)",
                "--aws needs the region the cluster's nodes run in",
            )
        })
    }

    /// The endpoint override: the flag, else AWS_ENDPOINT_URL; it must be an
    /// http(s) URL, as the controller requires.
    pub fn endpoint_url(&self) -> Result<Option<String>, CmdError> {
        let url = or_env(&self.aws_endpoint_url, "AWS_ENDPOINT_URL");
        if let Some(url) = &url {
            check_endpoint_url(url).map_err(|why| {
                CmdError::invalid_flag("--aws-endpoint-url (AWS_ENDPOINT_URL)", why)
            })?;
        }
        Ok(url)
    }
}

/// An AWS endpoint override must be an http(s) URL (the controller's rule too).
pub fn check_endpoint_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{url:?} is not an http(s):// URL"))
    }
}

/// The flag, else its variable (a blank one counts as unset).
pub fn or_env(flag: &Option<String>, variable: &str) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var(variable).ok())
        .filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_refused_without_aws_and_named() {
        let flags = AwsEndpoint {
            aws_endpoint_url: Some("http://127.0.0.1:5000".into()),
            ..AwsEndpoint::default()
        };
        assert!(flags.refuse_without_aws(true).is_ok());
        let err = flags.refuse_without_aws(false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--aws-endpoint-url"), "{err}");
        assert!(AwsEndpoint::default().refuse_without_aws(false).is_ok());
    }

    #[test]
    fn an_endpoint_that_is_no_url_is_refused() {
        let flags = AwsEndpoint {
            aws_endpoint_url: Some("127.0.0.1:5000".into()),
            ..AwsEndpoint::default()
        };
        let err = flags.endpoint_url().unwrap_err();
        assert!(
            err.to_string().contains("is not an http(s):// URL"),
            "{err}"
        );
    }
}
