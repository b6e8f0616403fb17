//! Faults of the real dependencies, produced for real: KMS keys disabled or pending deletion
//! in moto (which `infra/moto_server.py` makes refuse them as AWS does), and DynamoDB
//! unreachable or not answering at all. The token endpoint answers `503
//! temporarily_unavailable` with `Retry-After` within the SDK's bounded timeouts, and serves
//! again by itself once the fault clears. Faults moto cannot produce (throttling) are injected
//! in `faults.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use appid::domain::{Custody, TenantId};
use appid::http::AdminAuth;
use appid::ports::Store;
use appid::signing::kms::{KmsMode, KmsVault};
use appid::store::dynamo::DynamoStore;
use appid_tests::harness::{Answer, Functions};
use appid_tests::moto;
use aws_config::SdkConfig;

struct Deployment {
    sdk: SdkConfig,
    table: String,
    store: Arc<DynamoStore>,
    kms: aws_sdk_kms::Client,
}

async fn deployment() -> Deployment {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    Deployment {
        store: Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            table.clone(),
        )),
        table,
        kms: aws_sdk_kms::Client::new(&sdk),
        sdk,
    }
}

impl Deployment {
    async fn functions(&self, mode: KmsMode) -> Functions {
        let vault = KmsVault::connect(self.kms.clone(), mode)
            .await
            .expect("vault");
        Functions::over(self.store.clone(), Arc::new(vault), AdminAuth::Iam)
    }
}

/// A tenant with one app, and the token function that serves it.
struct Caller<'a> {
    functions: &'a Functions,
    tenant: String,
    client_id: String,
    secret: String,
}

impl<'a> Caller<'a> {
    /// Registers a tenant and an app through `setup`; tokens are asked of `functions`.
    async fn registered(setup: &Functions, functions: &'a Functions) -> Self {
        let tenant = setup.create_tenant("Acme").await;
        let app = setup.register_app(&tenant, "worker").await;
        let field = |name: &str| app[name].as_str().expect(name).to_owned();
        Self {
            functions,
            client_id: field("clientId"),
            secret: field("secret"),
            tenant,
        }
    }

    async fn token(&self) -> Answer {
        (self.functions)
            .request_token(&self.tenant, &self.client_id, &self.secret)
            .await
    }

    async fn assert_served(&self, why: &str) {
        let answer = self.token().await;
        assert_eq!(answer.status, 200, "{why}: {}", answer.raw);
    }

    async fn assert_unavailable(&self) {
        let answer = self.token().await;
        answer.assert_error(503, "temporarily_unavailable");
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
}

async fn set_enabled(kms: &aws_sdk_kms::Client, key: &str, enabled: bool) {
    if enabled {
        kms.enable_key()
            .key_id(key)
            .send()
            .await
            .expect("enable the key");
    } else {
        kms.disable_key()
            .key_id(key)
            .send()
            .await
            .expect("disable the key");
    }
}

#[tokio::test]
async fn a_disabled_or_deleted_signing_key_is_503_and_service_resumes_when_it_is_enabled() {
    let d = deployment().await;
    let mode = KmsMode::Direct {
        deployment: "appid-test".into(),
    };
    let functions = d.functions(mode).await;
    let caller = Caller::registered(&functions, &functions).await;
    caller.assert_served("before any fault").await;
    let tenant_id: TenantId = caller.tenant.parse().expect("tenant id");
    let stored = d
        .store
        .tenant(&tenant_id)
        .await
        .expect("read")
        .expect("tenant");
    let Custody::Kms { key_arn } = &stored.keys.current().custody else {
        panic!("direct mode signs in KMS");
    };

    set_enabled(&d.kms, key_arn, false).await;
    caller.assert_unavailable().await;
    set_enabled(&d.kms, key_arn, true).await;
    caller.assert_served("once the key is enabled again").await;

    let deletion = d.kms.schedule_key_deletion().key_id(key_arn);
    deletion
        .pending_window_in_days(7)
        .send()
        .await
        .expect("schedule deletion");
    caller.assert_unavailable().await;
    let cancel = d.kms.cancel_key_deletion().key_id(key_arn).send().await;
    cancel.expect("cancel deletion");
    // KMS leaves a key whose deletion was cancelled disabled.
    set_enabled(&d.kms, key_arn, true).await;
    caller.assert_served("once the deletion is cancelled").await;
}

#[tokio::test]
async fn a_disabled_wrapping_key_is_503_for_keys_not_yet_opened_and_then_recovers() {
    let d = deployment().await;
    let wrapping_key = moto::create_wrapping_key(&d.sdk).await;
    let mode = KmsMode::Wrapped {
        wrapping_key: wrapping_key.clone(),
    };
    let setup = d.functions(mode.clone()).await;
    // A fresh token function, as after a cold start, that has opened no key yet.
    let functions = d.functions(mode).await;
    let caller = Caller::registered(&setup, &functions).await;

    set_enabled(&d.kms, &wrapping_key, false).await;
    caller.assert_unavailable().await;
    set_enabled(&d.kms, &wrapping_key, true).await;
    caller.assert_served("once the key is enabled again").await;
    set_enabled(&d.kms, &wrapping_key, false).await;
    caller
        .assert_served("a key opened once is kept: no KMS call per token")
        .await;
}

/// A DynamoDB endpoint that refuses connections, and one that accepts them and never answers:
/// both become a `503` within the SDK's bounded attempts, far inside the Lambda timeout.
#[tokio::test]
async fn an_unreachable_or_silent_dynamodb_is_503_within_the_sdk_timeouts() {
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused_at = format!("http://{}", refusing.local_addr().expect("addr"));
    drop(refusing);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_at = format!("http://{}", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });

    let d = deployment().await;
    let mode = KmsMode::Direct {
        deployment: "appid-test".into(),
    };
    let setup = d.functions(mode.clone()).await;
    for endpoint in [refused_at, silent_at] {
        let sdk = appid::aws::sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), d.table.clone());
        let vault = KmsVault::connect(d.kms.clone(), mode.clone())
            .await
            .expect("vault");
        let functions = Functions::over(Arc::new(store), Arc::new(vault), AdminAuth::Iam);
        let caller = Caller::registered(&setup, &functions).await;
        let started = Instant::now();
        caller.assert_unavailable().await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{endpoint}: answered after {:?}",
            started.elapsed()
        );
    }
    held.abort();
}
