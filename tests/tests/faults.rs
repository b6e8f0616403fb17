//! Failures of the store reach callers as documented statuses: throttling and outages as
//! `503 temporarily_unavailable` with `Retry-After`, unreadable data as `500 server_error`,
//! writers that keep losing races as `409 conflict`; and none of them changes anything.

use std::sync::Arc;

use appid::http::AdminAuth;
use appid::signing::local::LocalVault;
use appid::store::embedded::EmbeddedStore;
use appid_tests::faults::{Fault, FaultyStore, FaultyVault, KeyFault};
use appid_tests::harness::{Answer, Functions};
use serde_json::json;

struct Faulty {
    functions: Functions,
    store: Arc<FaultyStore<EmbeddedStore>>,
    tenant: String,
    client_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

async fn faulty(fault: Fault) -> Faulty {
    let dir = tempfile::tempdir().expect("temp dir");
    let inner = EmbeddedStore::open(&dir.path().join("store.redb")).expect("store");
    let store = Arc::new(FaultyStore::new(inner, fault));
    let functions = Functions::over(
        store.clone(),
        Arc::new(LocalVault::ephemeral()),
        AdminAuth::Iam,
    );
    let tenant = functions.create_tenant("t").await;
    let app = functions.register_app(&tenant, "a").await;
    let client_id = app["clientId"].as_str().expect("id").to_owned();
    let secret = app["secret"].as_str().expect("secret").to_owned();
    store.arm();
    Faulty {
        functions,
        store,
        tenant,
        client_id,
        secret,
        _dir: dir,
    }
}

fn expect_error(answer: &Answer, status: u16, error: &str) {
    answer.assert_error(status, error);
    assert!(
        !answer.raw.contains("injected"),
        "internal detail never reaches the caller"
    );
}

#[tokio::test]
async fn a_throttled_store_answers_503_with_retry_after_on_every_route() {
    let f = faulty(Fault::Throttled).await;
    let (t, c) = (&f.tenant, &f.client_id);
    let calls = [
        ("GET", "/tenants".to_owned(), None),
        ("POST", "/tenants".to_owned(), Some(json!({"name": "x"}))),
        ("GET", format!("/tenants/{t}"), None),
        ("GET", format!("/{t}/applications/{c}"), None),
        ("POST", format!("/{t}/applications/{c}/secret"), None),
        (
            "PUT",
            format!("/{t}/config/tokens"),
            Some(json!({"access": {"expires_in": 600}})),
        ),
        (
            "DELETE",
            format!("/{t}/roles/0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let answer = f.functions.admin_call(method, &path, body).await;
        expect_error(&answer, 503, "temporarily_unavailable");
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    let token = f
        .functions
        .request_token(&f.tenant, &f.client_id, &f.secret)
        .await;
    expect_error(&token, 503, "temporarily_unavailable");
    assert_eq!(token.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn unreadable_data_is_a_500_that_reveals_nothing() {
    let f = faulty(Fault::Corrupt).await;
    let read = f
        .functions
        .admin_call(
            "GET",
            &format!("/{}/applications/{}", f.tenant, f.client_id),
            None,
        )
        .await;
    expect_error(&read, 500, "server_error");
    let token = f
        .functions
        .request_token(&f.tenant, &f.client_id, &f.secret)
        .await;
    expect_error(&token, 500, "server_error");
}

#[tokio::test]
async fn writers_that_keep_losing_races_get_409_and_change_nothing() {
    let f = faulty(Fault::LosesRaces).await;
    let (t, c) = (&f.tenant, &f.client_id);
    let calls = [
        (
            "PUT",
            format!("/tenants/{t}"),
            Some(json!({"name": "renamed"})),
        ),
        (
            "PUT",
            format!("/{t}/applications/{c}"),
            Some(json!({"name": "renamed"})),
        ),
        (
            "PUT",
            format!("/{t}/applications/{c}/scopes"),
            Some(json!({"scopes": ["read"]})),
        ),
        ("POST", format!("/{t}/applications/{c}/secret"), None),
        (
            "PUT",
            format!("/{t}/config/tokens"),
            Some(json!({"access": {"expires_in": 600}})),
        ),
    ];
    for (method, path, body) in calls {
        expect_error(
            &f.functions.admin_call(method, &path, body).await,
            409,
            "conflict",
        );
    }
    let role = f
        .functions
        .admin_call("POST", &format!("/{t}/roles"), Some(json!({"name": "r"})))
        .await;
    let role_id = role.body["id"].as_str().expect("role created").to_owned();
    let replace = f
        .functions
        .admin_call(
            "PUT",
            &format!("/{t}/roles/{role_id}"),
            Some(json!({"name": "s"})),
        )
        .await;
    expect_error(&replace, 409, "conflict");
    drop(f.store);
    let token = f
        .functions
        .request_token(&f.tenant, &f.client_id, &f.secret)
        .await;
    assert_eq!(
        token.status, 200,
        "the original secret still works: {}",
        token.raw
    );
    let app = f
        .functions
        .admin_call("GET", &format!("/{t}/applications/{c}"), None)
        .await;
    assert_eq!(app.body["name"], json!("a"));
}

/// KMS throttled, unreachable, or with the key disabled: the token endpoint answers `503` with
/// `Retry-After` and no detail, management changes that need a key apply wholly or not at all,
/// and service resumes by itself once the fault clears.
#[tokio::test]
async fn a_failing_key_vault_answers_503_changes_nothing_and_recovers_by_itself() {
    for fault in [
        KeyFault::Throttled,
        KeyFault::KeyUnusable,
        KeyFault::Unavailable,
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("store"));
        let vault = Arc::new(FaultyVault::new(LocalVault::ephemeral(), fault));
        let functions = Functions::over(store, vault.clone(), AdminAuth::Iam);
        let tenant = functions.create_tenant("t").await;
        let app = functions.register_app(&tenant, "a").await;
        let (client_id, secret) = (
            app["clientId"].as_str().expect("id"),
            app["secret"].as_str().expect("secret"),
        );
        let before = functions.key_config(&tenant).await;
        vault.arm();

        let token = functions.request_token(&tenant, client_id, secret).await;
        expect_error(&token, 503, "temporarily_unavailable");
        assert_eq!(token.header("retry-after"), Some("1"), "{fault:?}");

        let tenants = functions.admin_call("GET", "/tenants", None).await;
        let created = functions
            .admin_call("POST", "/tenants", Some(json!({"name": "new"})))
            .await;
        expect_error(&created, 503, "temporarily_unavailable");
        let keys_path = format!("/{tenant}/config/keys");
        let changed = functions
            .admin_call("PUT", &keys_path, Some(json!({"algorithm": "ES256"})))
            .await;
        expect_error(&changed, 503, "temporarily_unavailable");
        functions.advance(appid::domain::KEY_PUBLICATION_LEAD_SECONDS);
        let rotated = functions
            .admin_call("POST", &format!("{keys_path}/rotate"), None)
            .await;
        expect_error(&rotated, 503, "temporarily_unavailable");

        vault.disarm();
        assert_eq!(
            functions.admin_call("GET", "/tenants", None).await.body,
            tenants.body,
            "no tenant half-created"
        );
        assert_eq!(functions.key_config(&tenant).await["keys"], before["keys"]);
        let token = functions.request_token(&tenant, client_id, secret).await;
        assert_eq!(token.status, 200, "{fault:?} cleared: {}", token.raw);
    }
}
