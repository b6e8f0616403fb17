//! The token function: `POST /oauth/v4/{tenantId}/token` and `GET /oauth/v4/{tenantId}/publickeys`,
//! over DynamoDB and a KMS-held signing key. Everything that can be done once (configuration,
//! clients, the public key and its JWK) is done here, before the first request.

use std::sync::Arc;

use appid::config::TokenConfig;
use appid::http::{Api, lambda};
use appid::ports::{SystemClock, SystemRandom};
use appid::ratelimit::RateLimiter;
use appid::service::TokenIssuer;
use appid::signing::kms::KmsSigner;
use appid::store::dynamo::DynamoStore;
use appid::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json);
    let config = TokenConfig::from_env()?;
    let sdk = appid::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let signer = Arc::new(KmsSigner::from_config(&sdk, &config.kms_key_id).await?);
    let clock = Arc::new(SystemClock);
    let issuer = TokenIssuer::new(store, signer, clock.clone(), Arc::new(SystemRandom));
    let api = Api::default()
        .with_max_body_bytes(config.max_body_bytes)
        .with_rate_limiter(RateLimiter::new(config.rate_limit, clock))
        .with_oauth(issuer);
    lambda::run(api, config.public_url).await
}
