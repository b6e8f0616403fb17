//! The connection to moto's server, which the test command starts on 127.0.0.1 and names in
//! `APPID_TEST_MOTO_URL`. Each test makes its own table and key, so tests run in parallel
//! without seeing each other's data.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// SDK configuration pointing every client at moto, with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    let endpoint = std::env::var("APPID_TEST_MOTO_URL").expect(
        "APPID_TEST_MOTO_URL is not set: run the emulator tests through `make test`, \
         which starts moto_server and sets it",
    );
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto");
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// A fresh table with the schema of `template.yaml`, named uniquely.
pub async fn create_table(sdk: &SdkConfig) -> String {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let name = format!(
        "appid-test-{}",
        appid::ports::Random::uuid(&appid::ports::SystemRandom)
    );
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key schema")
    };
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table in moto");
    name
}

/// A fresh symmetric wrapping key as `template.yaml` declares it; returns its id.
pub async fn create_wrapping_key(sdk: &SdkConfig) -> String {
    create_key(sdk, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await
}

pub async fn create_key(sdk: &SdkConfig, spec: KeySpec, usage: KeyUsageType) -> String {
    let output = aws_sdk_kms::Client::new(sdk)
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .expect("create key in moto");
    output.key_metadata.expect("key metadata").key_id
}

/// Records every request an SDK client sends (each attempt, retries included) as
/// `Service.Operation`, to count the AWS calls an operation costs.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("call log"))
    }

    pub fn dynamodb(&self, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    pub fn kms(&self, sdk: &SdkConfig) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_owned(),
            |m| format!("{}.{}", m.service(), m.name()),
        );
        self.0.lock().expect("call log").push(call);
        Ok(())
    }
}
