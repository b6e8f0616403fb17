//! Both stores pass the same behavioural suite: the embedded one on a temporary file, the
//! DynamoDB one against moto's server over HTTP.

use appid::domain::{App, ClientId, ClientSecret, Name, Tenant, TenantId};
use appid::ports::Store;
use appid::store::dynamo::DynamoStore;
use appid::store::embedded::EmbeddedStore;
use appid_tests::{SeededRandom, contract, moto};

fn name(raw: &str) -> Name {
    Name::parse(raw).expect("name")
}

#[tokio::test]
async fn embedded_store_keeps_the_store_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
    contract::store_contract(&store, 1).await;
}

#[tokio::test]
async fn embedded_store_keeps_committed_writes_across_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let random = SeededRandom::new(2);
    let tenant = Tenant {
        id: TenantId::generate(&random),
        name: name("kept"),
        created_at: 1,
    };
    let app = App {
        tenant_id: tenant.id,
        client_id: ClientId::generate(&random),
        name: name("kept app"),
        secret_digest: ClientSecret::generate(&random).digest(),
        created_at: 2,
    };
    {
        let store = EmbeddedStore::open(&path).expect("open");
        store.insert_tenant(&tenant).await.expect("insert tenant");
        store.insert_app(&app).await.expect("insert app");
    }
    let reopened = EmbeddedStore::open(&path).expect("reopen");
    assert_eq!(
        reopened.tenant(&tenant.id).await.expect("read"),
        Some(tenant.clone())
    );
    assert_eq!(
        reopened
            .app(&tenant.id, &app.client_id)
            .await
            .expect("read"),
        Some(app)
    );
    contract::store_contract(&reopened, 3).await;
}

#[tokio::test]
async fn dynamodb_store_keeps_the_store_contract_on_moto() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let store = DynamoStore::from_config(&sdk, table);
    contract::store_contract(&store, 4).await;
}
