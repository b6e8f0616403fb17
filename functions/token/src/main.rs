//! The token function: everything under `/oauth/v4/{tenantId}` (token, introspection,
//! revocation, public keys, metadata) over DynamoDB and tenants' keys in KMS. Everything that
//! can be done once (configuration, clients, the wrapping key's check) is done here, before the
//! first request; signers are opened on first use and kept.

use std::sync::Arc;

use appid::config::TokenConfig;
use appid::guessing::GuessingGuard;
use appid::http::{Api, lambda};
use appid::metrics::MetricsSink;
use appid::ports::{SystemClock, SystemRandom};
use appid::ratelimit::RateLimiter;
use appid::service::TokenIssuer;
use appid::telemetry::{self, Delivery, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json, Delivery::Immediate);
    let config = TokenConfig::from_env()?;
    let (store, vault) = appid::aws::adapters(config.table_name, config.kms).await?;
    let clock = Arc::new(SystemClock);
    let issuer = TokenIssuer::new(store, vault, clock.clone(), Arc::new(SystemRandom));
    let api = Api::default()
        .with_metrics(MetricsSink::stdout())
        .with_max_body_bytes(config.max_body_bytes)
        .with_rate_limiter(RateLimiter::new(config.rate_limit, clock.clone()))
        .with_guessing_guard(GuessingGuard::new(config.auth_failures_per_minute, clock))
        .with_oauth(issuer);
    lambda::run(api, config.public_url).await
}
