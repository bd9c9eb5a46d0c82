//! The AWS SDK clients kerf talks to (EC2, SSM, SQS, Pricing), built from one
//! shared config: region, optional endpoint override (moto in tests, a VPC
//! endpoint in production), optional static credentials, the SDK's standard
//! retry with backoff for throttling and 5xx, and an HTTPS client on rustls
//! with the ring provider (the same crypto the Kubernetes client uses).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where and as whom to reach AWS.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    pub region: String,
    /// Overrides every service's endpoint (e.g. `http://127.0.0.1:5000` for moto).
    pub endpoint_url: Option<String>,
    /// Overrides the Pricing API's endpoint only (it lives in us-east-1 and ap-south-1).
    pub pricing_endpoint_url: Option<String>,
    /// Region the Pricing API is called in.
    pub pricing_region: String,
    /// Static credentials; `None` uses the default chain (env, web identity, IMDS, ...).
    pub credentials: Option<StaticCredentials>,
    /// Attempts per call including the first (SDK standard retry, exponential backoff).
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub attempt_timeout: Duration,
}

/// An access key pair, for tests and for operators who pass keys explicitly.
#[derive(Clone, Debug)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl AwsSettings {
    pub fn new(region: impl Into<String>) -> Self {
        AwsSettings {
            region: region.into(),
            endpoint_url: None,
            pricing_endpoint_url: None,
            pricing_region: "us-east-1".to_string(),
            credentials: None,
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(30),
        }
    }

    /// Everything pointed at one local endpoint with fixed test credentials.
    pub fn local(endpoint_url: impl Into<String>) -> Self {
        let endpoint = endpoint_url.into();
        AwsSettings {
            endpoint_url: Some(endpoint.clone()),
            pricing_endpoint_url: Some(endpoint),
            credentials: Some(StaticCredentials {
                access_key_id: "testing".to_string(),
                secret_access_key: "testing".to_string(),
            }),
            max_attempts: 1,
            // moto takes seconds to serialize all ~1400 instance types.
            attempt_timeout: Duration::from_secs(120),
            ..AwsSettings::new("us-east-1")
        }
    }
}

/// One client per service kerf uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub pricing: aws_sdk_pricing::Client,
    /// Instance profiles for node classes that name a role.
    pub iam: aws_sdk_iam::Client,
}

impl Clients {
    /// Loads the shared config (resolving credentials lazily) and builds the clients.
    pub async fn connect(settings: &AwsSettings) -> Clients {
        let base = load(settings, &settings.region, settings.endpoint_url.as_deref()).await;
        let pricing_endpoint = settings
            .pricing_endpoint_url
            .as_deref()
            .or(settings.endpoint_url.as_deref());
        let pricing = load(settings, &settings.pricing_region, pricing_endpoint).await;
        Clients {
            region: settings.region.clone(),
            ec2: aws_sdk_ec2::Client::new(&base),
            ssm: aws_sdk_ssm::Client::new(&base),
            sqs: aws_sdk_sqs::Client::new(&base),
            pricing: aws_sdk_pricing::Client::new(&pricing),
            iam: aws_sdk_iam::Client::new(&base),
        }
    }
}

/// The shared SDK config for `settings.region` and `settings.endpoint_url`, for
/// callers that build clients of other services (the add-on's IAM, EKS, ...).
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    load(settings, &settings.region, settings.endpoint_url.as_deref()).await
}

async fn load(settings: &AwsSettings, region: &str, endpoint: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(settings.attempt_timeout)
                .build(),
        );
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &settings.credentials {
        loader = loader.credentials_provider(Credentials::from_keys(
            &c.access_key_id,
            &c.secret_access_key,
            None,
        ));
    }
    loader.load().await
}
