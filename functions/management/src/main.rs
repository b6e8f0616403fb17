//! The management function: `/management/v4/...`, registering tenants and apps in DynamoDB.
//! It holds no signing key: the token function alone can sign.

use std::sync::Arc;

use appid::config::ManagementConfig;
use appid::http::{Api, lambda};
use appid::ports::{SystemClock, SystemRandom};
use appid::service::Management;
use appid::store::dynamo::DynamoStore;
use appid::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json);
    let config = ManagementConfig::from_env()?;
    let sdk = appid::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let management = Management::new(
        store,
        Arc::new(SystemClock),
        Arc::new(SystemRandom),
        config.default_token_ttl,
    );
    let api = Api::default()
        .with_max_body_bytes(config.max_body_bytes)
        .with_management(management, config.admin);
    lambda::run(api, config.public_url).await
}
