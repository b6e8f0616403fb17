//! Scopes and audiences in tokens: what the caller's roles grant for the app acting as the API,
//! asked for with `scope`, and `audience` (App ID) or `resource` (RFC 8707).

use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{Answer, Functions, basic};
use serde_json::{Value, json};

struct Setup {
    f: Functions,
    tenant: String,
    api: String,
    caller: String,
    secret: String,
}

/// An API app defining `read write admin`, a caller app holding a role that grants it
/// `read write` of the API.
async fn setup() -> Setup {
    let f = Functions::embedded(AdminAuth::Iam);
    let tenant = f.create_tenant("t").await;
    let api = f.register_app(&tenant, "billing-api").await["clientId"]
        .as_str()
        .expect("id")
        .to_owned();
    let scopes = json!({"scopes": ["read", "write", "admin"]});
    f.admin_call(
        "PUT",
        &format!("/{tenant}/applications/{api}/scopes"),
        Some(scopes),
    )
    .await;
    let caller = f.register_app(&tenant, "batch-job").await;
    let grant = json!({"name": "billing users", "access": [{"application_id": api, "scopes": ["write", "read"]}]});
    let role = f
        .admin_call("POST", &format!("/{tenant}/roles"), Some(grant))
        .await
        .body["id"]
        .clone();
    let (client, secret) = (
        caller["clientId"].as_str().expect("id").to_owned(),
        caller["secret"].as_str().expect("s").to_owned(),
    );
    let assigned = f
        .admin_call(
            "PUT",
            &format!("/{tenant}/applications/{client}/roles"),
            Some(json!({"roles": {"ids": [role]}})),
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.raw);
    Setup {
        f,
        tenant,
        api,
        caller: client,
        secret,
    }
}

impl Setup {
    async fn token(&self, params: &str) -> Answer {
        let path = format!("/oauth/v4/{}/token", self.tenant);
        let body = format!("grant_type=client_credentials{params}");
        let event = Event::new("POST", &path)
            .header("authorization", basic(&self.caller, &self.secret))
            .form(&body);
        self.f.token(event).await
    }
}

fn claims(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.raw);
    let token = answer.body["access_token"].as_str().expect("token");
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("jwt")
        .claims
}

#[tokio::test]
async fn without_scope_the_token_carries_every_scope_granted_for_the_audience() {
    let s = setup().await;
    let answer = s.token(&format!("&audience={}", s.api)).await;
    let claims = claims(&answer);
    assert_eq!(claims["aud"], json!([s.api]));
    assert_eq!(
        claims["scope"],
        json!("read write"),
        "in the API's order, only what roles grant"
    );
    assert_eq!(
        answer.body["scope"],
        json!("read write"),
        "echoed: none was requested"
    );
}

#[tokio::test]
async fn a_requested_subset_is_granted_as_asked_and_not_echoed() {
    let s = setup().await;
    let answer = s.token(&format!("&audience={}&scope=read", s.api)).await;
    assert_eq!(claims(&answer)["scope"], json!("read"));
    assert!(
        answer.body.get("scope").is_none(),
        "identical to the request: {}",
        answer.raw
    );
}

#[tokio::test]
async fn a_scope_the_roles_do_not_grant_is_invalid_scope() {
    let s = setup().await;
    for scope in ["admin", "read%20admin", "delete", "Not_Valid"] {
        let answer = s.token(&format!("&audience={}&scope={scope}", s.api)).await;
        answer.assert_error(400, "invalid_scope");
    }
}

#[tokio::test]
async fn the_audience_can_be_named_as_an_rfc_8707_resource() {
    let s = setup().await;
    let answer = s
        .token(&format!("&resource=urn:uuid:{}&scope=write", s.api))
        .await;
    let claims = claims(&answer);
    assert_eq!(
        (claims["aud"].clone(), claims["scope"].clone()),
        (json!([s.api]), json!("write"))
    );
    let both = s
        .token(&format!("&resource=urn:uuid:{0}&audience={0}", s.api))
        .await;
    assert_eq!(both.status, 200, "the same app twice is one audience");
}

#[tokio::test]
async fn an_unknown_audience_is_invalid_target() {
    let s = setup().await;
    let unknown = "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11";
    for params in [
        format!("&audience={unknown}"),
        "&audience=not-an-app".to_owned(),
        format!("&resource=urn:uuid:{unknown}"),
        format!("&resource={}", s.api),
        format!("&resource=urn:uuid:{0}&resource=urn:uuid:{0}", s.api),
        format!("&audience={}&resource=urn:uuid:{}", s.api, s.caller),
    ] {
        s.token(&params).await.assert_error(400, "invalid_target");
    }
    let other = s.f.create_tenant("other").await;
    let foreign = s.f.register_app(&other, "foreign").await["clientId"]
        .as_str()
        .expect("id")
        .to_owned();
    s.token(&format!("&audience={foreign}"))
        .await
        .assert_error(400, "invalid_target");
}

#[tokio::test]
async fn without_an_audience_the_token_is_for_the_caller_itself() {
    let s = setup().await;
    let claims = claims(&s.token("").await);
    assert_eq!(claims["aud"], json!([s.caller]));
    assert!(
        claims.get("scope").is_none(),
        "no role grants the caller's own scopes"
    );
    s.token("&scope=read")
        .await
        .assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn grants_follow_later_changes_to_roles_and_scopes() {
    let s = setup().await;
    let scopes = json!({"scopes": ["read", "admin"]});
    s.f.admin_call(
        "PUT",
        &format!("/{}/applications/{}/scopes", s.tenant, s.api),
        Some(scopes),
    )
    .await;
    let narrowed = claims(&s.token(&format!("&audience={}", s.api)).await);
    assert_eq!(
        narrowed["scope"],
        json!("read"),
        "a scope the API no longer defines is not granted"
    );
    let unassign = json!({"roles": {"ids": []}});
    s.f.admin_call(
        "PUT",
        &format!("/{}/applications/{}/roles", s.tenant, s.caller),
        Some(unassign),
    )
    .await;
    let answer = s.token(&format!("&audience={}", s.api)).await;
    assert!(claims(&answer).get("scope").is_none());
}
