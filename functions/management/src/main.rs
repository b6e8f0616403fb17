//! The management function: `/management/v4/...`, registering tenants and apps in DynamoDB and
//! making tenants' signing keys in KMS. It cannot sign: in direct mode only the token function
//! may call `Sign`, in wrapped mode only it may `Decrypt` a private key.

use std::sync::Arc;

use appid::config::ManagementConfig;
use appid::http::{Api, lambda};
use appid::metrics::MetricsSink;
use appid::ports::{SystemClock, SystemRandom};
use appid::service::Management;
use appid::telemetry::{self, Delivery, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json, Delivery::Immediate);
    let config = ManagementConfig::from_env()?;
    let (store, vault) = appid::aws::adapters(config.table_name, config.kms).await?;
    let management = Management::new(
        store,
        vault,
        Arc::new(SystemClock),
        Arc::new(SystemRandom),
        config.defaults,
    );
    let api = Api::default()
        .with_metrics(MetricsSink::stdout())
        .with_max_body_bytes(config.max_body_bytes)
        .with_management(management, config.admin);
    lambda::run(api, config.public_url).await
}
