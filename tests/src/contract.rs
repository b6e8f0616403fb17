//! The behaviour every [`Store`] adapter must show, run against each of them.

use std::collections::BTreeSet;

use appid::domain::{
    Access, Algorithm, App, ClientId, ClientSecret, Custody, Description, KeySet, KeyState, Name,
    Role, RoleId, Scope, SecretEntry, SigningKey, Tenant, TenantId, TokenTtl,
};
use appid::ports::{PageRequest, Random, Store, StoreError, TokenState};

use crate::SeededRandom;

pub fn name(raw: &str) -> Name {
    Name::parse(raw).expect("valid name")
}

pub fn tenant(random: &SeededRandom, label: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(random),
        name: name(label),
        token_ttl: TokenTtl::DEFAULT,
        keys: keys(random),
        created_at: 1_700_000_000,
        version: 0,
    }
}

/// A key set with one key in each state and both kinds of custody; the bytes stand in for key
/// material, which the store keeps without looking into it.
fn keys(random: &SeededRandom) -> KeySet {
    let key = |state, algorithm, custody| {
        let mut public_der = vec![0; 91];
        random.fill(&mut public_der);
        SigningKey {
            kid: random.uuid().simple().to_string(),
            algorithm,
            public_der,
            custody,
            created_at: 1_700_000_000,
            state,
        }
    };
    let wrapped = |len| {
        let mut ciphertext = vec![0; len];
        random.fill(&mut ciphertext);
        Custody::Wrapped { ciphertext }
    };
    let kms = Custody::Kms {
        key_arn: "arn:aws:kms:us-east-1:123456789012:key/0b7c1d2e".into(),
    };
    KeySet::from_keys(vec![
        key(
            KeyState::Retiring {
                until: 1_700_086_400,
            },
            Algorithm::Rs256,
            wrapped(1_300),
        ),
        key(KeyState::Current, Algorithm::Es256, kms),
        key(KeyState::Next, Algorithm::Es256, wrapped(200)),
    ])
    .expect("one current and one next key")
}

pub fn app(random: &SeededRandom, tenant_id: TenantId, label: &str) -> App {
    App {
        tenant_id,
        client_id: ClientId::generate(random),
        name: name(label),
        secrets: vec![SecretEntry {
            digest: ClientSecret::generate(random).digest(),
            created_at: 1_700_000_100,
            expires_at: None,
        }],
        scopes: Scope::parse_list(["read", "write.all"]).expect("scopes"),
        roles: vec![RoleId::generate(random)],
        token_ttl: TokenTtl::new(900),
        created_at: 1_700_000_100,
        version: 0,
    }
}

pub fn role(random: &SeededRandom, tenant_id: TenantId, grants: &App) -> Role {
    Role {
        tenant_id,
        id: RoleId::generate(random),
        name: name("readers"),
        description: Description::parse("may read").expect("description"),
        access: vec![Access {
            application_id: grants.client_id,
            scopes: grants.scopes[..1].to_vec(),
        }],
        created_at: 1_700_000_200,
        version: 0,
    }
}

/// Runs every check of the contract; `seed` keeps ids of separate runs on one backend apart.
pub async fn store_contract(store: &dyn Store, seed: u64) {
    let random = SeededRandom::new(seed);
    tenants_round_trip_and_are_never_overwritten(store, &random).await;
    replacements_check_the_version_they_read(store, &random).await;
    children_need_an_existing_tenant_and_write_nothing_otherwise(store, &random).await;
    apps_and_roles_round_trip_and_are_never_overwritten(store, &random).await;
    apps_are_invisible_from_other_tenants(store, &random).await;
    listings_page_through_every_item_once_in_id_order(store, &random).await;
    the_token_read_needs_both_tenant_and_app(store, &random).await;
    the_token_read_follows_every_change_at_once(store, &random).await;
    deleting_a_tenant_leaves_nothing_of_it_readable(store, &random).await;
    deletes_remove_only_what_exists(store, &random).await;
    revocations_are_per_tenant_and_follow_the_client(store, &random).await;
}

async fn revocations_are_per_tenant_and_follow_the_client(
    store: &dyn Store,
    random: &SeededRandom,
) {
    let (t, other) = (tenant(random, "revoking"), tenant(random, "elsewhere"));
    store.insert_tenant(&t).await.expect("insert");
    store.insert_tenant(&other).await.expect("insert");
    let a = app(random, t.id, "holder");
    store.insert_app(&a).await.expect("insert app");
    let jti = random.uuid();
    let live = TokenState {
        client_exists: true,
        revoked: false,
    };
    assert_eq!(
        store
            .token_state(&t.id, &a.client_id, &jti)
            .await
            .expect("read"),
        live
    );
    store
        .revoke(&t.id, &jti, 1_900_000_000)
        .await
        .expect("revoke");
    store
        .revoke(&t.id, &jti, 1_900_000_000)
        .await
        .expect("revoking twice is harmless");
    let revoked = TokenState {
        client_exists: true,
        revoked: true,
    };
    assert_eq!(
        store
            .token_state(&t.id, &a.client_id, &jti)
            .await
            .expect("read"),
        revoked
    );
    let elsewhere = store
        .token_state(&other.id, &a.client_id, &jti)
        .await
        .expect("read");
    assert_eq!(
        elsewhere,
        TokenState {
            client_exists: false,
            revoked: false
        }
    );
    store
        .delete_app(&t.id, &a.client_id)
        .await
        .expect("delete app");
    let orphaned = store
        .token_state(&t.id, &a.client_id, &jti)
        .await
        .expect("read");
    assert!(!orphaned.client_exists);
    store.delete_tenant(&t.id).await.expect("delete tenant");
    let gone = store
        .token_state(&t.id, &a.client_id, &jti)
        .await
        .expect("read");
    assert_eq!(
        gone,
        TokenState {
            client_exists: false,
            revoked: false
        },
        "revocations go with the tenant"
    );
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
        name: name("Impostor"),
        ..acme.clone()
    };
    let error = store
        .insert_tenant(&impostor)
        .await
        .expect_err("same id twice");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");
    assert_eq!(store.tenant(&acme.id).await.expect("read"), Some(acme));
}

async fn replacements_check_the_version_they_read(store: &dyn Store, random: &SeededRandom) {
    let t = tenant(random, "versioned");
    store.insert_tenant(&t).await.expect("insert");
    let renamed = Tenant {
        name: name("renamed"),
        token_ttl: TokenTtl::new(600).expect("ttl"),
        ..t.clone()
    };
    store
        .replace_tenant(&renamed)
        .await
        .expect("replace at version 0");
    let stored = store.tenant(&t.id).await.expect("read").expect("exists");
    assert_eq!(
        (
            stored.name.as_str(),
            stored.token_ttl.seconds(),
            stored.version
        ),
        ("renamed", 600, 1)
    );
    let stale = store
        .replace_tenant(&Tenant {
            name: name("stale"),
            ..t.clone()
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict)),
        "{stale:?}"
    );

    let a = app(random, t.id, "versioned app");
    store.insert_app(&a).await.expect("insert app");
    let mut changed = a.clone();
    changed.scopes = Vec::new();
    store.replace_app(&changed).await.expect("replace app");
    assert!(matches!(
        store.replace_app(&a).await,
        Err(StoreError::VersionConflict)
    ));
    let stored = store
        .app(&t.id, &a.client_id)
        .await
        .expect("read")
        .expect("exists");
    assert!(stored.scopes.is_empty() && stored.version == 1);

    let r = role(random, t.id, &a);
    store.insert_role(&r).await.expect("insert role");
    store
        .replace_role(&Role {
            name: name("writers"),
            ..r.clone()
        })
        .await
        .expect("replace role");
    assert!(matches!(
        store.replace_role(&r).await,
        Err(StoreError::VersionConflict)
    ));

    let ghost = app(random, t.id, "never stored");
    assert!(matches!(
        store.replace_app(&ghost).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.app(&t.id, &ghost.client_id).await.expect("read"),
        None,
        "no resurrection"
    );
}

async fn children_need_an_existing_tenant_and_write_nothing_otherwise(
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
    let orphan_role = role(random, missing, &orphan);
    let error = store
        .insert_role(&orphan_role)
        .await
        .expect_err("no such tenant");
    assert!(matches!(error, StoreError::TenantNotFound), "{error:?}");
    assert_eq!(
        store.role(&missing, &orphan_role.id).await.expect("read"),
        None
    );
    assert_eq!(store.tenant(&missing).await.expect("read"), None);
}

async fn apps_and_roles_round_trip_and_are_never_overwritten(
    store: &dyn Store,
    random: &SeededRandom,
) {
    let home = tenant(random, "home");
    store.insert_tenant(&home).await.expect("insert tenant");
    let mut daemon = app(random, home.id, "nightly batch");
    daemon.secrets.push(SecretEntry {
        digest: ClientSecret::generate(random).digest(),
        created_at: 1_700_000_000,
        expires_at: Some(1_700_086_400),
    });
    store.insert_app(&daemon).await.expect("insert app");
    assert_eq!(
        store.app(&home.id, &daemon.client_id).await.expect("read"),
        Some(daemon.clone())
    );

    let mut replacement = daemon.clone();
    replacement.secrets.truncate(1);
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
    assert_eq!(kept.secrets, daemon.secrets, "the first write must survive");

    let readers = role(random, home.id, &daemon);
    store.insert_role(&readers).await.expect("insert role");
    assert_eq!(
        store.role(&home.id, &readers.id).await.expect("read"),
        Some(readers.clone())
    );
    let error = store
        .insert_role(&readers)
        .await
        .expect_err("same role id twice");
    assert!(matches!(error, StoreError::AlreadyExists), "{error:?}");
}

async fn apps_are_invisible_from_other_tenants(store: &dyn Store, random: &SeededRandom) {
    let (a, b) = (tenant(random, "a"), tenant(random, "b"));
    store.insert_tenant(&a).await.expect("insert a");
    store.insert_tenant(&b).await.expect("insert b");
    let in_a = app(random, a.id, "service in a");
    store.insert_app(&in_a).await.expect("insert app");
    let role_in_a = role(random, a.id, &in_a);
    store.insert_role(&role_in_a).await.expect("insert role");
    assert_eq!(store.app(&b.id, &in_a.client_id).await.expect("read"), None);
    assert_eq!(store.role(&b.id, &role_in_a.id).await.expect("read"), None);
    assert_eq!(
        store.client(&b.id, &in_a.client_id).await.expect("read"),
        None
    );
    assert!(
        store
            .apps(&b.id, &PageRequest::first(10))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        store
            .roles(&b.id, &PageRequest::first(10))
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

async fn listings_page_through_every_item_once_in_id_order(
    store: &dyn Store,
    random: &SeededRandom,
) {
    let t = tenant(random, "many");
    store.insert_tenant(&t).await.expect("insert");
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        let a = app(random, t.id, &format!("app {i}"));
        store.insert_app(&a).await.expect("insert app");
        expected.insert(a.client_id.to_string());
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let result = store.apps(&t.id, &page).await.expect("list");
        assert!(result.items.len() <= 3);
        seen.extend(result.items.iter().map(|a| a.client_id.to_string()));
        match result.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        expected.iter().cloned().collect::<Vec<_>>(),
        "each once, in id order"
    );

    let all_tenants = collect_tenants(store).await;
    assert!(all_tenants.contains(&t.id.to_string()));
    let unique: BTreeSet<_> = all_tenants.iter().collect();
    assert_eq!(unique.len(), all_tenants.len(), "no tenant listed twice");
}

async fn collect_tenants(store: &dyn Store) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let result = store.tenants(&page).await.expect("list tenants");
        ids.extend(result.items.iter().map(|t| t.id.to_string()));
        match result.next {
            Some(next) => page.after = Some(next),
            None => return ids,
        }
    }
}

async fn the_token_read_needs_both_tenant_and_app(store: &dyn Store, random: &SeededRandom) {
    let t = tenant(random, "token path");
    store.insert_tenant(&t).await.expect("insert");
    let a = app(random, t.id, "caller");
    assert_eq!(store.client(&t.id, &a.client_id).await.expect("read"), None);
    store.insert_app(&a).await.expect("insert app");
    assert_eq!(
        store.client(&t.id, &a.client_id).await.expect("read"),
        Some((t.clone(), a.clone()))
    );
    let unknown = ClientId::generate(random);
    assert_eq!(store.client(&t.id, &unknown).await.expect("read"), None);
}

/// Each change is read back by the next token read, even right after the same client was read:
/// a store that keeps what it read must not serve it past a write.
async fn the_token_read_follows_every_change_at_once(store: &dyn Store, random: &SeededRandom) {
    let t = tenant(random, "changing");
    store.insert_tenant(&t).await.expect("insert");
    let a = app(random, t.id, "changing caller");
    store.insert_app(&a).await.expect("insert app");
    let read = || async { store.client(&t.id, &a.client_id).await.expect("read") };
    assert_eq!(read().await, Some((t.clone(), a.clone())));

    let mut rotated = a.clone();
    rotated.secrets[0].digest = ClientSecret::generate(random).digest();
    store.replace_app(&rotated).await.expect("replace app");
    rotated.version += 1;
    assert_eq!(read().await, Some((t.clone(), rotated.clone())));

    let mut shorter = t.clone();
    shorter.token_ttl = TokenTtl::new(600).expect("ttl");
    store
        .replace_tenant(&shorter)
        .await
        .expect("replace tenant");
    shorter.version += 1;
    assert_eq!(read().await, Some((shorter.clone(), rotated.clone())));

    store
        .delete_app(&t.id, &a.client_id)
        .await
        .expect("delete app");
    assert_eq!(read().await, None);
    store.insert_app(&a).await.expect("insert app again");
    assert_eq!(read().await, Some((shorter, a.clone())));
    store.delete_tenant(&t.id).await.expect("delete tenant");
    assert_eq!(read().await, None);
}

async fn deleting_a_tenant_leaves_nothing_of_it_readable(store: &dyn Store, random: &SeededRandom) {
    let t = tenant(random, "doomed");
    store.insert_tenant(&t).await.expect("insert");
    let apps: Vec<App> = (0..30)
        .map(|i| app(random, t.id, &format!("doomed {i}")))
        .collect();
    for a in &apps {
        store.insert_app(a).await.expect("insert app");
    }
    let r = role(random, t.id, &apps[0]);
    store.insert_role(&r).await.expect("insert role");

    store.delete_tenant(&t.id).await.expect("delete tenant");
    assert_eq!(store.tenant(&t.id).await.expect("read"), None);
    assert!(
        !collect_tenants(store).await.contains(&t.id.to_string()),
        "gone from the listing"
    );
    for a in &apps {
        assert_eq!(store.app(&t.id, &a.client_id).await.expect("read"), None);
        assert_eq!(store.client(&t.id, &a.client_id).await.expect("read"), None);
    }
    assert_eq!(store.role(&t.id, &r.id).await.expect("read"), None);
    assert!(
        store
            .apps(&t.id, &PageRequest::first(100))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        store
            .roles(&t.id, &PageRequest::first(100))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(matches!(
        store.delete_tenant(&t.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn deletes_remove_only_what_exists(store: &dyn Store, random: &SeededRandom) {
    let t = tenant(random, "deletes");
    store.insert_tenant(&t).await.expect("insert");
    let a = app(random, t.id, "short-lived");
    store.insert_app(&a).await.expect("insert app");
    let r = role(random, t.id, &a);
    store.insert_role(&r).await.expect("insert role");
    store
        .delete_app(&t.id, &a.client_id)
        .await
        .expect("delete app");
    store.delete_role(&t.id, &r.id).await.expect("delete role");
    assert_eq!(store.app(&t.id, &a.client_id).await.expect("read"), None);
    assert_eq!(store.role(&t.id, &r.id).await.expect("read"), None);
    assert!(matches!(
        store.delete_app(&t.id, &a.client_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_role(&t.id, &r.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store.tenant(&t.id).await.expect("read").is_some(),
        "the tenant stays"
    );
}
