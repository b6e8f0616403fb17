//! The rotation function: run by a schedule (EventBridge in `template.yaml`), it rotates the
//! signing keys of every tenant whose next key has been published long enough. Tenants not yet
//! ready are left for a later run; a run in which any rotation failed reports an error, so that
//! it shows in the function's error metric and alarm.

use std::sync::Arc;

use appid::config::RotationConfig;
use appid::ports::{SystemClock, SystemRandom};
use appid::service::Management;
use appid::telemetry::{self, Delivery, LogFormat};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json, Delivery::Immediate);
    let config = RotationConfig::from_env()?;
    let (store, vault) = appid::aws::adapters(config.table_name, config.kms).await?;
    let management = Management::new(
        store,
        vault,
        Arc::new(SystemClock),
        Arc::new(SystemRandom),
        config.defaults,
    );
    let management = &management;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let summary = management.rotate_all_keys().await?;
        lambda_http::tracing::info!(
            rotated = summary.rotated,
            not_ready = summary.not_ready,
            failed = summary.failed,
            "scheduled key rotation"
        );
        if summary.failed > 0 {
            return Err(format!("{} tenants' keys could not be rotated", summary.failed).into());
        }
        Ok::<_, lambda_http::Error>(json!({
            "rotated": summary.rotated,
            "notReady": summary.not_ready,
        }))
    }))
    .await
}
