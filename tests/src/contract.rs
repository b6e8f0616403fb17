//! The behaviour every [`Store`] adapter must show, run against each of them.

use appid::domain::{App, ClientId, ClientSecret, Name, Tenant, TenantId};
use appid::ports::{Store, StoreError};

use crate::SeededRandom;

fn tenant(random: &SeededRandom, name: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(random),
        name: Name::parse(name).expect("name"),
        created_at: 1_700_000_000,
    }
}

fn app(random: &SeededRandom, tenant_id: TenantId, name: &str) -> App {
    App {
        tenant_id,
        client_id: ClientId::generate(random),
        name: Name::parse(name).expect("name"),
        secret_digest: ClientSecret::generate(random).digest(),
        created_at: 1_700_000_100,
    }
}

/// Runs every check of the contract; `seed` keeps ids of separate runs on one backend apart.
pub async fn store_contract(store: &dyn Store, seed: u64) {
    let random = SeededRandom::new(seed);
    tenants_round_trip_and_are_never_overwritten(store, &random).await;
    apps_need_an_existing_tenant_and_write_nothing_otherwise(store, &random).await;
    apps_round_trip_and_are_never_overwritten(store, &random).await;
    apps_are_invisible_from_other_tenants(store, &random).await;
}

async fn tenants_round_trip_and_are_never_overwritten(store: &dyn Store, random: &SeededRandom) {
    let acme = tenant(random, "Acme Corp — billing");
    assert_eq!(store.tenant(&acme.id).await.expect("read"), None);
    store.insert_tenant(&acme).await.expect("insert tenant");
    assert_eq!(
        store.tenant(&acme.id).await.expect("read"),
        Some(acme.clone())
    );

    let impostor = Tenant {
        name: Name::parse("Impostor").expect("name"),
        ..acme.clone()
    };
    let error = store
        .insert_tenant(&impostor)
        .await
        .expect_err("same id twice");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");
    assert_eq!(store.tenant(&acme.id).await.expect("read"), Some(acme));
}

async fn apps_need_an_existing_tenant_and_write_nothing_otherwise(
    store: &dyn Store,
    random: &SeededRandom,
) {
    let missing = TenantId::generate(random);
    let orphan = app(random, missing, "orphan");
    let error = store.insert_app(&orphan).await.expect_err("no such tenant");
    assert!(matches!(error, StoreError::TenantNotFound), "{error:?}");
    assert_eq!(
        store.app(&missing, &orphan.client_id).await.expect("read"),
        None
    );
    assert_eq!(store.tenant(&missing).await.expect("read"), None);
}

async fn apps_round_trip_and_are_never_overwritten(store: &dyn Store, random: &SeededRandom) {
    let home = tenant(random, "home");
    store.insert_tenant(&home).await.expect("insert tenant");
    let daemon = app(random, home.id, "nightly batch");
    assert_eq!(
        store.app(&home.id, &daemon.client_id).await.expect("read"),
        None
    );
    store.insert_app(&daemon).await.expect("insert app");
    assert_eq!(
        store.app(&home.id, &daemon.client_id).await.expect("read"),
        Some(daemon.clone())
    );

    let replacement = App {
        secret_digest: ClientSecret::generate(random).digest(),
        ..daemon.clone()
    };
    let error = store
        .insert_app(&replacement)
        .await
        .expect_err("same client id twice");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");
    let kept = store
        .app(&home.id, &daemon.client_id)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(
        kept.secret_digest, daemon.secret_digest,
        "the first secret must survive"
    );
}

async fn apps_are_invisible_from_other_tenants(store: &dyn Store, random: &SeededRandom) {
    let (a, b) = (tenant(random, "a"), tenant(random, "b"));
    store.insert_tenant(&a).await.expect("insert a");
    store.insert_tenant(&b).await.expect("insert b");
    let in_a = app(random, a.id, "service in a");
    store.insert_app(&in_a).await.expect("insert app");
    assert_eq!(store.app(&b.id, &in_a.client_id).await.expect("read"), None);
    assert!(
        store
            .app(&a.id, &in_a.client_id)
            .await
            .expect("read")
            .is_some()
    );
}
