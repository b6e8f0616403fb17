//! The connection to moto's server, which the test command starts on 127.0.0.1 and names in
//! `APPID_TEST_MOTO_URL`. Each test makes its own table and key, so tests run in parallel
//! without seeing each other's data.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};

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

/// A fresh asymmetric signing key as `template.yaml` declares it; returns its id.
pub async fn create_signing_key(sdk: &SdkConfig) -> String {
    create_key(sdk, KeySpec::Rsa2048, KeyUsageType::SignVerify).await
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
