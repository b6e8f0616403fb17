//! AWS SDK configuration shared by the Lambda functions, read once per cold start.
//!
//! Region, credentials and endpoint come from the environment as the SDK reads them, so
//! `AWS_ENDPOINT_URL` points every client at an emulator. Timeouts and retries are bounded so
//! that a slow or failing dependency turns into a quick `503`, well inside the Lambda timeout.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::signing::kms::{KmsMode, KmsSetupError, KmsVault};
use crate::store::dynamo::DynamoStore;

/// One attempt may take this long; with retries, a whole call stays under [`OPERATION`].
const ATTEMPT: Duration = Duration::from_millis(1_500);
const OPERATION: Duration = Duration::from_secs(4);
const CONNECT: Duration = Duration::from_millis(800);
const MAX_ATTEMPTS: u32 = 3;

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT)
                .operation_attempt_timeout(ATTEMPT)
                .operation_timeout(OPERATION)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// The adapters every Lambda function runs on, built once per cold start: the DynamoDB store
/// over `table` and the KMS vault in `mode` (whose wrapping key, in wrapped mode, is checked
/// here), both on [`sdk_config`].
pub async fn adapters(
    table: String,
    mode: KmsMode,
) -> Result<(Arc<DynamoStore>, Arc<KmsVault>), KmsSetupError> {
    let sdk = sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, table));
    let vault = Arc::new(KmsVault::from_config(&sdk, mode).await?);
    Ok((store, vault))
}
