//! Collect, AWS client: the one way lapse builds an AWS SDK config, shared by the live collector
//! and `lapse revoke`: the standard credential chain (env, profile, SSO, web identity, container
//! and instance metadata), profile, region, endpoint override and the standard retry mode.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Region when neither the flag, the profile nor the environment sets one (IAM is global, the
/// SDK still wants a region).
const FALLBACK_REGION: &str = "us-east-1";

/// The parts of an SDK config lapse sets; everything else comes from the standard chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientSettings<'a> {
    pub profile: Option<&'a str>,
    pub region: Option<&'a str>,
    /// Overrides the endpoint of every call (`--aws-endpoint-url`; the SDK itself also reads
    /// `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<&'a str>,
    /// Attempts per call (the first try plus retries).
    pub max_attempts: u32,
}

/// The standard retry mode: exponential backoff with jitter, throttling retried, access errors
/// not.
pub(crate) async fn sdk_config(settings: ClientSettings<'_>) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .timeout_config(timeouts);
    if let Some(profile) = settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = settings.region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(url) = settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config
        .into_builder()
        .region(Region::new(FALLBACK_REGION))
        .build()
}
