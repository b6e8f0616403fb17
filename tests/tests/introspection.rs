//! Introspection (RFC 7662) and revocation (RFC 7009) at the tenant's issuer.

use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{Answer, Functions, basic};
use serde_json::json;

struct Setup {
    f: Functions,
    tenant: String,
    /// (client id, secret) of the app whose tokens are examined.
    holder: (String, String),
    /// (client id, secret) of the resource server that introspects.
    api: (String, String),
}

fn credentials(app: &serde_json::Value) -> (String, String) {
    let field = |k: &str| app[k].as_str().expect(k).to_owned();
    (field("clientId"), field("secret"))
}

async fn setup() -> Setup {
    let f = Functions::embedded(AdminAuth::Iam);
    let tenant = f.create_tenant("t").await;
    let holder = credentials(&f.register_app(&tenant, "holder").await);
    let api = credentials(&f.register_app(&tenant, "api").await);
    Setup {
        f,
        tenant,
        holder,
        api,
    }
}

impl Setup {
    async fn token(&self) -> String {
        let answer = self
            .f
            .request_token(&self.tenant, &self.holder.0, &self.holder.1)
            .await;
        answer.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    async fn post(&self, endpoint: &str, who: &(String, String), body: &str) -> Answer {
        let path = format!("/oauth/v4/{}/{endpoint}", self.tenant);
        let event = Event::new("POST", &path)
            .header("authorization", basic(&who.0, &who.1))
            .form(body);
        self.f.token(event).await
    }

    async fn introspect(&self, token: &str) -> Answer {
        let answer = self
            .post("introspect", &self.api, &format!("token={token}"))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        answer
    }
}

#[tokio::test]
async fn an_active_token_is_described_by_its_claims() {
    let s = setup().await;
    let token = s.token().await;
    let answer = s.introspect(&token).await;
    let body = &answer.body;
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["client_id"], json!(s.holder.0));
    assert_eq!(body["sub"], json!(s.holder.0));
    assert_eq!(body["aud"], json!([s.holder.0]));
    assert_eq!(
        body["iss"],
        json!(format!(
            "https://abc123.execute-api.us-east-1.amazonaws.com/oauth/v4/{}",
            s.tenant
        ))
    );
    assert!(body["exp"].is_u64() && body["iat"].is_u64() && body["jti"].is_string());
}

#[tokio::test]
async fn expired_forged_foreign_and_garbage_tokens_are_inactive() {
    let s = setup().await;
    let token = s.token().await;
    let inactive = json!({"active": false});
    let (head, payload, signature) = {
        let parts: Vec<&str> = token.split('.').collect();
        (
            parts[0].to_owned(),
            parts[1].to_owned(),
            parts[2].to_owned(),
        )
    };
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{payload}.{flipped}{}", &signature[1..]);
    for presented in [
        forged.as_str(),
        "garbage",
        "a.b.c",
        &format!("{head}.{payload}"),
    ] {
        assert_eq!(s.introspect(presented).await.body, inactive, "{presented}");
    }
    let other_tenant = s.f.create_tenant("other").await;
    let stranger = credentials(&s.f.register_app(&other_tenant, "stranger").await);
    let foreign =
        s.f.request_token(&other_tenant, &stranger.0, &stranger.1)
            .await;
    let foreign = foreign.body["access_token"].as_str().expect("token");
    assert_eq!(
        s.introspect(foreign).await.body,
        inactive,
        "another tenant's token"
    );

    s.f.advance(3600);
    assert_eq!(s.introspect(&token).await.body, inactive, "expired");
}

#[tokio::test]
async fn a_token_of_a_deleted_app_is_inactive() {
    let s = setup().await;
    let token = s.token().await;
    s.f.admin_call(
        "DELETE",
        &format!("/{}/applications/{}", s.tenant, s.holder.0),
        None,
    )
    .await;
    assert_eq!(s.introspect(&token).await.body, json!({"active": false}));
}

#[tokio::test]
async fn an_app_revokes_its_own_token_and_it_becomes_inactive() {
    let s = setup().await;
    let (token, other) = (s.token().await, s.token().await);
    let revoked = s
        .post(
            "revoke",
            &s.holder,
            &format!("token={token}&token_type_hint=access_token"),
        )
        .await;
    assert_eq!((revoked.status, revoked.raw.as_str()), (200, ""));
    assert_eq!(revoked.header("cache-control"), Some("no-store"));
    assert_eq!(s.introspect(&token).await.body, json!({"active": false}));
    assert_eq!(
        s.introspect(&other).await.body["active"],
        json!(true),
        "only that token"
    );
    let again = s.post("revoke", &s.holder, &format!("token={token}")).await;
    assert_eq!(again.status, 200, "revoking twice is fine");
    let garbage = s.post("revoke", &s.holder, "token=garbage").await;
    assert_eq!(
        garbage.status, 200,
        "an invalid token needs no revocation (RFC 7009 §2.2)"
    );
}

#[tokio::test]
async fn an_app_cannot_revoke_another_apps_token() {
    let s = setup().await;
    let token = s.token().await;
    let refused = s.post("revoke", &s.api, &format!("token={token}")).await;
    refused.assert_error(400, "unauthorized_client");
    assert_eq!(s.introspect(&token).await.body["active"], json!(true));
}

#[tokio::test]
async fn both_endpoints_need_client_credentials_and_a_token() {
    let s = setup().await;
    let token = s.token().await;
    for endpoint in ["introspect", "revoke"] {
        let wrong = (s.api.0.clone(), "wrong".to_owned());
        s.post(endpoint, &wrong, &format!("token={token}"))
            .await
            .assert_error(401, "invalid_client");
        let path = format!("/oauth/v4/{}/{endpoint}", s.tenant);
        let anonymous =
            s.f.token(Event::new("POST", &path).form(&format!("token={token}")))
                .await;
        anonymous.assert_error(401, "invalid_client");
        s.post(endpoint, &s.api, "token=")
            .await
            .assert_error(400, "invalid_request");
        s.post(endpoint, &s.api, "token=a&token=b")
            .await
            .assert_error(400, "invalid_request");
        let posted = format!(
            "token={token}&client_id={}&client_secret={}",
            s.api.0, s.api.1
        );
        let by_post = s.f.token(Event::new("POST", &path).form(&posted)).await;
        assert_eq!(
            by_post.status,
            if endpoint == "revoke" { 400 } else { 200 },
            "{}",
            by_post.raw
        );
        let get = s.f.token(Event::new("GET", &path)).await;
        assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    }
}
