//! Tenants' signing keys through the management and token functions: each tenant's own keys,
//! RS256 or ES256, and rotation that never leaves a verifier without the key of a live token.

use std::sync::Arc;

use appid::domain::{Algorithm, KEY_PUBLICATION_LEAD_SECONDS, KEY_RETIREMENT_SECONDS, Name};
use appid::keyring::KEY_SET_CACHE_SECONDS;
use appid::service::{Management, RotationSummary, TenantDefaults};
use appid::signing::local::LocalVault;
use appid::store::embedded::EmbeddedStore;
use appid_tests::events::Event;
use appid_tests::harness::{Answer, Functions, NOW, basic, verify};
use appid_tests::{FixedClock, SeededRandom};
use serde_json::{Value, json};

/// A tenant with one app, and what it takes to get and check its tokens.
struct Tenant {
    functions: Functions,
    id: String,
    client_id: String,
    secret: String,
}

impl Tenant {
    async fn new(body: Value) -> Self {
        let functions = Functions::embedded(appid::http::AdminAuth::Iam);
        let id = functions.create_tenant_with(body).await;
        let app = functions.register_app(&id, "worker").await;
        Self {
            client_id: app["clientId"].as_str().expect("id").to_owned(),
            secret: app["secret"].as_str().expect("secret").to_owned(),
            functions,
            id,
        }
    }

    async fn token(&self) -> String {
        let answer = self
            .functions
            .request_token(&self.id, &self.client_id, &self.secret)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        answer.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    async fn public_keys(&self) -> Value {
        let path = format!("/oauth/v4/{}/publickeys", self.id);
        let answer = self.functions.token(Event::new("GET", &path)).await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        answer.body
    }

    fn published_kids(keys: &Value) -> Vec<String> {
        let keys = keys["keys"].as_array().expect("keys");
        keys.iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// Verifies `token` offline against the published key set; returns its header's `alg`.
    async fn verify(&self, token: &str) -> jsonwebtoken::Algorithm {
        let issuer = format!(
            "https://abc123.execute-api.us-east-1.amazonaws.com/oauth/v4/{}",
            self.id
        );
        let (header, _) = verify(token, &self.public_keys().await, &issuer, &self.client_id);
        header.alg
    }

    async fn introspect(&self, token: &str) -> bool {
        let path = format!("/oauth/v4/{}/introspect", self.id);
        let answer = self
            .functions
            .token(
                Event::new("POST", &path)
                    .header("authorization", basic(&self.client_id, &self.secret))
                    .form(&format!("token={token}")),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        answer.body["active"] == json!(true)
    }

    async fn keys_call(&self, method: &str, suffix: &str, body: Option<Value>) -> Answer {
        let path = format!("/{}/config/keys{suffix}", self.id);
        self.functions.admin_call(method, &path, body).await
    }

    async fn rotate(&self) -> Answer {
        self.keys_call("POST", "/rotate", None).await
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

#[tokio::test]
async fn a_new_tenant_publishes_its_current_and_next_keys_and_signs_with_the_current_one() {
    let t = Tenant::new(json!({"name": "Acme"})).await;
    let config = t.functions.key_config(&t.id).await;
    assert_eq!(config["algorithm"], "RS256");
    assert_eq!(config["nextAlgorithm"], "RS256");
    assert_eq!(
        config["nextRotationAllowedAt"],
        json!(NOW + KEY_PUBLICATION_LEAD_SECONDS)
    );
    let statuses: Vec<&str> = config["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["current", "next"]);

    let token = t.token().await;
    assert_eq!(kid_of(&token), t.functions.current_kid(&t.id).await);
    let keys = t.public_keys().await;
    assert_eq!(Tenant::published_kids(&keys).len(), 2);
    assert_eq!(t.verify(&token).await, jsonwebtoken::Algorithm::RS256);

    let other = t.functions.create_tenant("Other").await;
    let other_kid = t.functions.current_kid(&other).await;
    assert!(
        !Tenant::published_kids(&keys).contains(&other_kid),
        "every tenant has keys of its own"
    );
}

#[tokio::test]
async fn a_tenant_created_for_es256_issues_es256_tokens_that_verify_offline() {
    let t = Tenant::new(json!({"name": "Acme", "algorithm": "ES256"})).await;
    let token = t.token().await;
    assert_eq!(t.verify(&token).await, jsonwebtoken::Algorithm::ES256);
    let keys = t.public_keys().await;
    for key in keys["keys"].as_array().expect("keys") {
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
    }
    assert!(t.introspect(&token).await);
    let signature = token.rsplit('.').next().expect("signature");
    assert_eq!(signature.len(), 86, "64 bytes of r || s in base64url");
}

/// The next key signs only after it has been published for the lead time; the previous key
/// then stays published, and its tokens verify and introspect, until they have all expired.
#[tokio::test]
async fn rotation_promotes_the_published_next_key_and_keeps_the_old_one_until_its_tokens_expire() {
    let t = Tenant::new(json!({"name": "Acme"})).await;
    let first = t.token().await;
    let next_kid = {
        let config = t.functions.key_config(&t.id).await;
        let keys = config["keys"].as_array().expect("keys").clone();
        let next = keys.iter().find(|k| k["status"] == "next").expect("next");
        next["kid"].as_str().expect("kid").to_owned()
    };

    let early = t.rotate().await;
    early.assert_error(409, "key_not_ready");
    assert_eq!(kid_of(&t.token().await), kid_of(&first), "nothing changed");

    t.functions.advance(KEY_PUBLICATION_LEAD_SECONDS);
    let before = t.token().await;
    assert_eq!(kid_of(&before), kid_of(&first));
    let rotated = t.rotate().await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    let statuses: Vec<(&str, &str)> = rotated.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or(""),
                k["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 3, "{}", rotated.raw);
    assert!(statuses.contains(&(kid_of(&before).as_str(), "retiring")));
    assert!(statuses.contains(&(next_kid.as_str(), "current")));
    let retiring = rotated.body["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["status"] == "retiring"))
        .expect("retiring key");
    let retired_at = NOW + KEY_PUBLICATION_LEAD_SECONDS + KEY_RETIREMENT_SECONDS;
    assert_eq!(retiring["publishedUntil"], json!(retired_at));

    let after = t.token().await;
    assert_eq!(
        kid_of(&after),
        next_kid,
        "the key verifiers already had signs now"
    );
    t.functions.advance(KEY_SET_CACHE_SECONDS);
    let published = Tenant::published_kids(&t.public_keys().await);
    assert!(published.contains(&kid_of(&before)) && published.contains(&kid_of(&after)));
    assert_eq!(t.verify(&before).await, jsonwebtoken::Algorithm::RS256);
    assert!(
        t.introspect(&before).await,
        "the old key's live token stays active"
    );
    assert!(t.introspect(&after).await);

    t.functions
        .advance(retired_at - NOW - KEY_PUBLICATION_LEAD_SECONDS - KEY_SET_CACHE_SECONDS);
    let published = Tenant::published_kids(&t.public_keys().await);
    assert!(
        !published.contains(&kid_of(&before)),
        "retired once every token it signed has expired"
    );
    assert_eq!(published.len(), 2);
}

#[tokio::test]
async fn an_algorithm_change_takes_effect_at_the_next_rotation() {
    let t = Tenant::new(json!({"name": "Acme"})).await;
    let changed = t
        .keys_call("PUT", "", Some(json!({"algorithm": "ES256"})))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.raw);
    assert_eq!(
        (
            changed.body["algorithm"].as_str(),
            changed.body["nextAlgorithm"].as_str()
        ),
        (Some("RS256"), Some("ES256"))
    );
    let again = t
        .keys_call("PUT", "", Some(json!({"algorithm": "ES256"})))
        .await;
    assert_eq!(
        again.body["keys"], changed.body["keys"],
        "the same algorithm changes nothing"
    );
    assert_eq!(
        t.verify(&t.token().await).await,
        jsonwebtoken::Algorithm::RS256
    );

    let early = t.rotate().await;
    early.assert_error(409, "key_not_ready");
    t.functions.advance(KEY_PUBLICATION_LEAD_SECONDS);
    assert_eq!(t.rotate().await.status, 200);
    let token = t.token().await;
    t.functions.advance(KEY_SET_CACHE_SECONDS);
    assert_eq!(t.verify(&token).await, jsonwebtoken::Algorithm::ES256);
    let config = t.functions.key_config(&t.id).await;
    assert_eq!(
        (
            config["algorithm"].as_str(),
            config["nextAlgorithm"].as_str()
        ),
        (Some("ES256"), Some("ES256"))
    );
}

#[tokio::test]
async fn key_settings_refuse_bad_input_with_specific_errors() {
    let t = Tenant::new(json!({"name": "Acme"})).await;
    for body in [
        json!({"algorithm": "HS256"}),
        json!({"algorithm": "none"}),
        json!({"algorithm": 256}),
        json!({}),
    ] {
        let answer = t.keys_call("PUT", "", Some(body.clone())).await;
        answer.assert_error(400, "invalid_request");
    }
    let answer = t
        .functions
        .admin_call(
            "POST",
            "/tenants",
            Some(json!({"name": "x", "algorithm": "rs256"})),
        )
        .await;
    answer.assert_error(400, "invalid_request");
    assert!(answer.raw.contains("RS256 or ES256"), "{}", answer.raw);

    let get_rotate = t.keys_call("GET", "/rotate", None).await;
    get_rotate.assert_error(405, "method_not_allowed");
    assert_eq!(get_rotate.header("allow"), Some("POST"));
    let delete = t.keys_call("DELETE", "", None).await;
    delete.assert_error(405, "method_not_allowed");
    let unknown = "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11";
    for (method, path) in [
        ("GET", format!("/{unknown}/config/keys")),
        ("POST", format!("/{unknown}/config/keys/rotate")),
    ] {
        let answer = t.functions.admin_call(method, &path, None).await;
        answer.assert_error(404, "tenant_not_found");
    }
}

/// What the scheduled rotation does: every tenant whose next key is ready rotates, the others
/// are left for a later run.
#[tokio::test]
async fn the_scheduled_rotation_rotates_every_tenant_whose_next_key_is_ready() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("store"));
    let clock = Arc::new(FixedClock::at(NOW));
    let management = Management::new(
        store,
        Arc::new(LocalVault::ephemeral()),
        clock.clone(),
        Arc::new(SeededRandom::new(3)),
        TenantDefaults::default(),
    );
    let name = |raw| Name::parse(raw).expect("name");
    let old = management
        .create_tenant(name("old"), None)
        .await
        .expect("tenant");
    clock.0.fetch_add(
        KEY_PUBLICATION_LEAD_SECONDS,
        std::sync::atomic::Ordering::SeqCst,
    );
    let young = management
        .create_tenant(name("young"), Some(Algorithm::Es256))
        .await
        .expect("tenant");

    let summary = management.rotate_all_keys().await.expect("rotation");
    assert_eq!(
        summary,
        RotationSummary {
            rotated: 1,
            not_ready: 1,
            failed: 0
        }
    );
    let old_after = management.tenant(old.id).await.expect("old");
    assert_eq!(old_after.keys.current().kid, old.keys.next().kid);
    let young_after = management.tenant(young.id).await.expect("young");
    assert_eq!(young_after.keys, young.keys, "not ready, not touched");
}
