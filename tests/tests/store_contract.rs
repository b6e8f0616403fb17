//! Both stores pass the same behavioural suite: the embedded one on a temporary file, the
//! DynamoDB one against moto's server over HTTP.

use appid::ports::Store;
use appid::store::dynamo::DynamoStore;
use appid::store::embedded::EmbeddedStore;
use appid_tests::{SeededRandom, contract, moto};

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
    let kept_tenant = contract::tenant(&random, "kept");
    let kept_app = contract::app(&random, kept_tenant.id, "kept app");
    {
        let store = EmbeddedStore::open(&path).expect("open");
        store
            .insert_tenant(&kept_tenant)
            .await
            .expect("insert tenant");
        store.insert_app(&kept_app).await.expect("insert app");
    }
    let reopened = EmbeddedStore::open(&path).expect("reopen");
    assert_eq!(
        reopened.tenant(&kept_tenant.id).await.expect("read"),
        Some(kept_tenant.clone())
    );
    let found = reopened
        .app(&kept_tenant.id, &kept_app.client_id)
        .await
        .expect("read");
    assert_eq!(found, Some(kept_app));
    contract::store_contract(&reopened, 3).await;
}

#[tokio::test]
async fn dynamodb_store_keeps_the_store_contract_on_moto() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let store = DynamoStore::from_config(&sdk, table);
    contract::store_contract(&store, 4).await;
}
