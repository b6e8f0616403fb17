//! Credential guessing at the token endpoint: repeated failures are refused per client id and
//! per source address, the holder of the right secret always gets through, and the answers tell
//! nothing about which client ids exist.

use appid::guessing::GuessingGuard;
use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{Answer, Functions, basic};

/// Failures a client id or an address may have at once in these tests; one is regained every
/// 20 seconds.
const LIMIT: u32 = 3;
const HOLDER: &str = "198.51.100.7";
const GUESSER: &str = "203.0.113.66";
const UNKNOWN_CLIENT: &str = "6c1b0a52-5f44-4d2b-9a43-6b3f1f0e2a11";

struct Tenant {
    functions: Functions,
    tenant: String,
    client_id: String,
    secret: String,
}

async fn guarded_tenant() -> Tenant {
    let mut functions = Functions::embedded(AdminAuth::Iam);
    let guard = GuessingGuard::new(LIMIT, functions.clock.clone());
    functions.token = std::mem::take(&mut functions.token).with_guessing_guard(guard);
    let tenant = functions.create_tenant("t").await;
    let app = functions.register_app(&tenant, "a").await;
    Tenant {
        client_id: app["clientId"].as_str().expect("clientId").to_owned(),
        secret: app["secret"].as_str().expect("secret").to_owned(),
        functions,
        tenant,
    }
}

impl Tenant {
    async fn token(&self, client_id: &str, secret: &str, from: &str) -> Answer {
        let path = format!("/oauth/v4/{}/token", self.tenant);
        let event = Event::new("POST", &path)
            .from_ip(from)
            .header("authorization", basic(client_id, secret))
            .form("grant_type=client_credentials");
        self.functions.token(event).await
    }

    async fn holder(&self, from: &str) -> u16 {
        self.token(&self.client_id, &self.secret, from).await.status
    }

    async fn guess(&self, from: &str) -> Answer {
        self.token(&self.client_id, "not-the-secret", from).await
    }
}

fn assert_slowed(answer: &Answer) {
    answer.assert_error(429, "too_many_requests");
    assert_eq!(answer.body["error_code"], "too many requests");
    assert_eq!(
        answer.header("retry-after"),
        Some("20"),
        "one failure is regained in 20 s"
    );
}

#[tokio::test]
async fn a_client_id_that_keeps_failing_is_refused_from_every_address_until_it_regains_budget() {
    let app = guarded_tenant().await;
    for _ in 0..LIMIT {
        app.guess(GUESSER).await.assert_error(401, "invalid_client");
    }
    assert_slowed(&app.guess(GUESSER).await);
    assert_slowed(&app.guess("192.0.2.1").await);
    assert_eq!(
        app.holder("192.0.2.44").await,
        429,
        "a holder never seen before is slowed too, not told the secret is right"
    );
    app.functions.advance(20);
    assert_eq!(
        app.holder("192.0.2.44").await,
        200,
        "and gets through once a failure is regained"
    );
}

#[tokio::test]
async fn a_holder_that_authenticated_before_is_never_locked_out_from_any_address() {
    let app = guarded_tenant().await;
    assert_eq!(app.holder(HOLDER).await, 200);
    for _ in 0..20 {
        let _ = app.guess(GUESSER).await;
    }
    assert_slowed(&app.guess(GUESSER).await);
    assert_slowed(&app.guess(HOLDER).await);
    for from in [HOLDER, GUESSER, "192.0.2.200"] {
        assert_eq!(
            app.holder(from).await,
            200,
            "{from}: the proven secret passes spent budgets"
        );
    }
    app.functions.advance(23 * 3600);
    assert_eq!(
        app.holder("192.0.2.201").await,
        200,
        "each success renews the exemption"
    );
}

#[tokio::test]
async fn a_rotated_out_secret_loses_its_exemption_and_is_charged_again() {
    let app = guarded_tenant().await;
    assert_eq!(app.holder(HOLDER).await, 200);
    let rotate = format!(
        "/management/v4/{}/applications/{}/secret",
        app.tenant, app.client_id
    );
    let rotated = app
        .functions
        .management(
            Event::new("POST", &rotate)
                .iam("arn:aws:iam::123456789012:user/admin")
                .json(&serde_json::json!({"graceSeconds": 0})),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    for _ in 0..LIMIT {
        app.holder(HOLDER).await;
    }
    assert_slowed(&app.token(&app.client_id, &app.secret, "192.0.2.9").await);
    let new_secret = rotated.body["secret"].as_str().expect("secret");
    assert_eq!(
        app.token(&app.client_id, new_secret, HOLDER).await.status,
        429
    );
}

#[tokio::test]
async fn one_address_trying_many_client_ids_is_refused_and_so_is_its_whole_ipv6_64() {
    let app = guarded_tenant().await;
    let ids: Vec<String> = (0..=LIMIT)
        .map(|i| format!("6c1b0a52-5f44-4d2b-9a43-00000000000{i}"))
        .collect();
    for id in &ids[..LIMIT as usize] {
        app.token(id, "guess", GUESSER)
            .await
            .assert_error(401, "invalid_client");
    }
    assert_slowed(&app.token(&ids[LIMIT as usize], "guess", GUESSER).await);
    assert_eq!(
        app.holder("192.0.2.50").await,
        200,
        "other addresses are unaffected"
    );

    for i in 0..LIMIT {
        let from = format!("2001:db8:1:2:{i:x}::1");
        let id = format!("7d2c1b63-6055-4e3c-8b54-00000000000{i}");
        app.token(&id, "guess", &from)
            .await
            .assert_error(401, "invalid_client");
    }
    assert_slowed(&app.token(&ids[1], "guess", "2001:db8:1:2:abcd::1").await);
    assert_eq!(
        app.token(&ids[1], "guess", "2001:db8:1:3::1").await.status,
        401,
        "the next /64 has a budget of its own"
    );
}

#[tokio::test]
async fn an_unknown_client_id_is_slowed_exactly_like_a_known_one() {
    let app = guarded_tenant().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..=LIMIT {
        known.push(app.guess(&format!("192.0.2.{i}")).await);
        unknown.push(
            app.token(UNKNOWN_CLIENT, "not-the-secret", &format!("198.18.0.{i}"))
                .await,
        );
    }
    for (k, u) in known.iter().zip(&unknown) {
        assert_eq!(
            (k.status, &k.raw),
            (u.status, &u.raw),
            "same status and bytes"
        );
        assert_eq!(k.header("retry-after"), u.header("retry-after"));
    }
    assert_eq!(known.last().map(|a| a.status), Some(429));
}

#[tokio::test]
async fn introspection_and_revocation_share_the_budgets_of_the_token_endpoint() {
    let app = guarded_tenant().await;
    for _ in 0..LIMIT {
        app.guess(GUESSER).await.assert_error(401, "invalid_client");
    }
    for endpoint in ["introspect", "revoke"] {
        let path = format!("/oauth/v4/{}/{endpoint}", app.tenant);
        let event = Event::new("POST", &path)
            .from_ip("192.0.2.99")
            .header("authorization", basic(&app.client_id, "not-the-secret"))
            .form("token=abc");
        assert_slowed(&app.functions.token(event).await);
    }
}
