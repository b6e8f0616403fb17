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

/// A tenant with one app: the tenant id, the client id and the secret.
async fn tenant_with_app(functions: &Functions) -> (String, String, String) {
    let tenant = functions.create_tenant("Acme").await;
    let app = functions.register_app(&tenant, "worker").await;
    let field = |name: &str| app[name].as_str().expect(name).to_owned();
    (tenant, field("clientId"), field("secret"))
}

fn assert_unavailable(answer: &Answer) {
    answer.assert_error(503, "temporarily_unavailable");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_disabled_or_deleted_signing_key_is_503_and_service_resumes_when_it_is_enabled() {
    let d = deployment().await;
    let mode = KmsMode::Direct {
        deployment: "appid-test".into(),
    };
    let functions = d.functions(mode).await;
    let (tenant, client_id, secret) = tenant_with_app(&functions).await;
    assert_eq!(
        functions
            .request_token(&tenant, &client_id, &secret)
            .await
            .status,
        200
    );
    let tenant_id: TenantId = tenant.parse().expect("tenant id");
    let stored = d
        .store
        .tenant(&tenant_id)
        .await
        .expect("read")
        .expect("tenant");
    let Custody::Kms { key_arn } = &stored.keys.current().custody else {
        panic!("direct mode signs in KMS");
    };

    d.kms
        .disable_key()
        .key_id(key_arn)
        .send()
        .await
        .expect("disable");
    assert_unavailable(&functions.request_token(&tenant, &client_id, &secret).await);
    d.kms
        .enable_key()
        .key_id(key_arn)
        .send()
        .await
        .expect("enable");
    assert_eq!(
        functions
            .request_token(&tenant, &client_id, &secret)
            .await
            .status,
        200
    );

    let deletion = d
        .kms
        .schedule_key_deletion()
        .key_id(key_arn)
        .pending_window_in_days(7);
    deletion.send().await.expect("schedule deletion");
    assert_unavailable(&functions.request_token(&tenant, &client_id, &secret).await);
    d.kms
        .cancel_key_deletion()
        .key_id(key_arn)
        .send()
        .await
        .expect("cancel deletion");
    // KMS leaves a key whose deletion was cancelled disabled.
    d.kms
        .enable_key()
        .key_id(key_arn)
        .send()
        .await
        .expect("enable");
    assert_eq!(
        functions
            .request_token(&tenant, &client_id, &secret)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_disabled_wrapping_key_is_503_for_keys_not_yet_opened_and_then_recovers() {
    let d = deployment().await;
    let wrapping_key = moto::create_wrapping_key(&d.sdk).await;
    let mode = KmsMode::Wrapped {
        wrapping_key: wrapping_key.clone(),
    };
    let setup = d.functions(mode.clone()).await;
    let (tenant, client_id, secret) = tenant_with_app(&setup).await;
    // A fresh token function, as after a cold start, that has opened no key yet.
    let functions = d.functions(mode).await;

    d.kms
        .disable_key()
        .key_id(&wrapping_key)
        .send()
        .await
        .expect("disable");
    assert_unavailable(&functions.request_token(&tenant, &client_id, &secret).await);
    d.kms
        .enable_key()
        .key_id(&wrapping_key)
        .send()
        .await
        .expect("enable");
    assert_eq!(
        functions
            .request_token(&tenant, &client_id, &secret)
            .await
            .status,
        200
    );
    d.kms
        .disable_key()
        .key_id(&wrapping_key)
        .send()
        .await
        .expect("disable");
    assert_eq!(
        functions
            .request_token(&tenant, &client_id, &secret)
            .await
            .status,
        200,
        "a key opened once is kept: no KMS call per token"
    );
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
    let (tenant, client_id, secret) = tenant_with_app(&setup).await;
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
        let started = Instant::now();
        assert_unavailable(&functions.request_token(&tenant, &client_id, &secret).await);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{endpoint}: answered after {:?}",
            started.elapsed()
        );
    }
    held.abort();
}
