//! The Lambda functions driven in-process with the events API Gateway and `cargo lambda`
//! deliver: the seed flow end to end, and one test per class of bad input.

use appid::domain::BaseUrl;
use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{ADMIN_TOKEN, Answer, Functions, NOW, admin, basic, verify};
use serde_json::{Value, json};

const DOMAIN_ORIGIN: &str = "https://abc123.execute-api.us-east-1.amazonaws.com";

fn iam_functions() -> Functions {
    Functions::embedded(AdminAuth::Iam)
}

fn token_functions() -> Functions {
    Functions::embedded(AdminAuth::token(ADMIN_TOKEN).expect("valid admin token"))
}

fn assert_oauth_error(answer: &Answer, status: u16, error: &str) {
    answer.assert_error(status, error);
}

#[tokio::test]
async fn a_registered_app_gets_a_token_that_verifies_with_the_published_keys() {
    let functions = iam_functions();
    let tenant = functions.create_tenant("Acme").await;
    let app = functions.register_app(&tenant, "ApplicationName").await;
    let client_id = app["clientId"].as_str().expect("clientId");
    let secret = app["secret"].as_str().expect("secret");
    let oauth_server_url = format!("{DOMAIN_ORIGIN}/oauth/v4/{tenant}");
    assert_eq!(app["tenantId"], json!(tenant));
    assert_eq!(app["name"], json!("ApplicationName"));
    assert_eq!(app["oAuthServerUrl"], json!(oauth_server_url));
    assert!(
        client_id.parse::<appid::domain::ClientId>().is_ok(),
        "clientId is a UUID"
    );
    assert!(secret.len() >= 43, "at least 256 bits");

    let answer = functions.request_token(&tenant, client_id, secret).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    let body = answer.body.as_object().expect("object");
    let mut fields: Vec<&str> = body.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["access_token", "expires_in", "token_type"],
        "no ID or refresh token"
    );
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(3600));

    let keys = functions
        .token(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
        .await;
    assert_eq!(keys.status, 200, "{}", keys.raw);
    let token = body["access_token"].as_str().expect("token");
    let (header, claims) = verify(token, &keys.body, &oauth_server_url, client_id);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid, Some(functions.current_kid(&tenant).await));
    assert_eq!(claims["sub"], json!(client_id));
    assert_eq!(claims["client_id"], json!(client_id));
    assert_eq!(claims["aud"], json!([client_id]));
    assert_eq!(claims["tenant"], json!(tenant));
    assert_eq!(claims["amr"], json!(["appid_client_credentials"]));
    assert_eq!(claims["ver"], json!(4));
    assert_eq!(claims["iat"], json!(NOW));
    assert_eq!(claims["exp"], json!(NOW + 3600));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
}

#[tokio::test]
async fn each_token_has_its_own_jti() {
    let functions = iam_functions();
    let tenant = functions.create_tenant("t").await;
    let app = functions.register_app(&tenant, "a").await;
    let (id, secret) = (
        app["clientId"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );
    let first = functions.request_token(&tenant, id, secret).await;
    let second = functions.request_token(&tenant, id, secret).await;
    let jti = |answer: &Answer| {
        let token = answer.body["access_token"].as_str().expect("token");
        jsonwebtoken::dangerous::insecure_decode::<Value>(token)
            .expect("claims")
            .claims["jti"]
            .clone()
    };
    assert_ne!(jti(&first), jti(&second));
}

#[tokio::test]
async fn a_configured_public_url_is_the_issuer_base() {
    let mut functions = iam_functions();
    functions.public_url = Some(BaseUrl::parse("https://auth.example.com").expect("url"));
    let tenant = functions.create_tenant("t").await;
    let app = functions.register_app(&tenant, "a").await;
    assert_eq!(
        app["oAuthServerUrl"],
        json!(format!("https://auth.example.com/oauth/v4/{tenant}"))
    );
}

#[tokio::test]
async fn the_bearer_admin_token_authorizes_management_in_token_mode() {
    let functions = token_functions();
    let event = Event::new("POST", "/management/v4/tenants")
        .header("authorization", format!("bearer {ADMIN_TOKEN}"))
        .json(&json!({"name": "t"}));
    assert_eq!(functions.management(event).await.status, 201);
}

// ---- management: bad input --------------------------------------------------------------

async fn create_tenant_with(functions: &Functions, event: Event<'_>) -> Answer {
    functions.management(admin(event)).await
}

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let functions = iam_functions();
    for body in ["{\"name\": ", "[\"name\"]", "\"name\"", ""] {
        let event = Event::new("POST", "/management/v4/tenants")
            .header("content-type", "application/json")
            .body(body);
        let answer = create_tenant_with(&functions, event).await;
        assert_oauth_error(&answer, 400, "invalid_json");
    }
}

#[tokio::test]
async fn missing_empty_too_long_or_non_string_names_are_invalid_name() {
    let functions = iam_functions();
    let tenant = functions.create_tenant("t").await;
    let apps = format!("/management/v4/{tenant}/applications");
    let bad = [
        json!({}),
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": "x".repeat(51)}),
        json!({"name": 7}),
        json!({"name": "tab\there"}),
        json!({"name": " padded"}),
    ];
    for path in ["/management/v4/tenants", apps.as_str()] {
        for body in &bad {
            let answer = create_tenant_with(&functions, Event::new("POST", path).json(body)).await;
            assert_oauth_error(&answer, 400, "invalid_name");
        }
    }
    let fifty = create_tenant_with(
        &functions,
        Event::new("POST", &apps).json(&json!({"name": "é".repeat(50)})),
    )
    .await;
    assert_eq!(
        fifty.status, 201,
        "50 characters are allowed: {}",
        fifty.raw
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_tenant_is_tenant_not_found() {
    let functions = iam_functions();
    let unknown = "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11";
    for tenant in [
        unknown,
        "not-a-uuid",
        "0B6C1A52-5F44-4D2B-9A43-6B3F1F0E2A11",
    ] {
        let path = format!("/management/v4/{tenant}/applications");
        let answer = create_tenant_with(
            &functions,
            Event::new("POST", &path).json(&json!({"name": "a"})),
        )
        .await;
        assert_oauth_error(&answer, 404, "tenant_not_found");
        let keys = functions
            .token(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
            .await;
        assert_oauth_error(&keys, 404, "tenant_not_found");
    }
}

#[tokio::test]
async fn management_without_a_valid_admin_credential_is_unauthorized_on_every_path() {
    let iam = iam_functions();
    let bearer = token_functions();
    let paths = [
        "/management/v4/tenants",
        "/management/v4/0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11/applications",
        "/management/nothing",
    ];
    for path in paths {
        let body = json!({"name": "t"});
        let no_principal = iam
            .management(
                Event::new("POST", path)
                    .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                    .json(&body),
            )
            .await;
        assert_oauth_error(&no_principal, 401, "unauthorized");
        for credential in [
            None,
            Some("Bearer wrong-token".to_owned()),
            Some(format!("Basic {ADMIN_TOKEN}")),
            Some(format!("Bearer {ADMIN_TOKEN}x")),
        ] {
            let mut event = Event::new("POST", path)
                .iam("arn:aws:iam::1:user/x")
                .json(&body);
            if let Some(value) = credential {
                event = event.header("authorization", value);
            }
            let answer = bearer.management(event).await;
            assert_oauth_error(&answer, 401, "unauthorized");
            assert_eq!(
                answer.header("www-authenticate"),
                Some(r#"Bearer realm="appid-management""#)
            );
        }
    }
}

#[tokio::test]
async fn unknown_routes_are_not_found_and_wrong_methods_not_allowed() {
    let functions = iam_functions();
    let tenant = functions.create_tenant("t").await;
    for path in [
        "/management/v4/nothing",
        "/management/v3/tenants",
        "/management/v4/tenants/extra/more",
    ] {
        assert_oauth_error(
            &create_tenant_with(
                &functions,
                Event::new("POST", path).json(&json!({"name": "t"})),
            )
            .await,
            404,
            "not_found",
        );
    }
    for path in [
        "/",
        "/oauth/v4",
        &format!("/oauth/v4/{tenant}/nothing"),
        "/management/v4/tenants",
    ] {
        assert_oauth_error(
            &functions.token(Event::new("GET", path)).await,
            404,
            "not_found",
        );
    }
    assert_oauth_error(
        &functions
            .management(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
            .await,
        404,
        "not_found",
    );

    let patch = create_tenant_with(&functions, Event::new("PATCH", "/management/v4/tenants")).await;
    assert_oauth_error(&patch, 405, "method_not_allowed");
    assert_eq!(patch.header("allow"), Some("GET, POST"));
    let path =
        format!("/management/v4/{tenant}/applications/0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11/secret");
    let get_secret = create_tenant_with(&functions, Event::new("GET", &path)).await;
    assert_eq!(
        (get_secret.status, get_secret.header("allow")),
        (405, Some("POST"))
    );
    let token_get = functions
        .token(Event::new("GET", &format!("/oauth/v4/{tenant}/token")))
        .await;
    assert_oauth_error(&token_get, 405, "method_not_allowed");
    let keys_post = functions
        .token(Event::new(
            "POST",
            &format!("/oauth/v4/{tenant}/publickeys"),
        ))
        .await;
    assert_eq!(
        (keys_post.status, keys_post.header("allow")),
        (405, Some("GET"))
    );
}

#[tokio::test]
async fn oversized_bodies_are_payload_too_large() {
    let functions = iam_functions();
    let tenant = functions.create_tenant("t").await;
    let huge = json!({"name": "t", "padding": "x".repeat(20_000)});
    let answer = create_tenant_with(
        &functions,
        Event::new("POST", "/management/v4/tenants").json(&huge),
    )
    .await;
    assert_oauth_error(&answer, 413, "payload_too_large");
    let form = format!("grant_type=client_credentials&pad={}", "x".repeat(20_000));
    let token = functions
        .token(Event::new("POST", &format!("/oauth/v4/{tenant}/token")).form(&form))
        .await;
    assert_oauth_error(&token, 413, "payload_too_large");
}

#[tokio::test]
async fn management_bodies_must_be_json() {
    let functions = iam_functions();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut event = Event::new("POST", "/management/v4/tenants").body(r#"{"name":"t"}"#);
        if let Some(value) = content_type {
            event = event.header("content-type", value);
        }
        assert_oauth_error(
            &create_tenant_with(&functions, event).await,
            415,
            "unsupported_media_type",
        );
    }
    let with_charset = Event::new("POST", "/management/v4/tenants")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"name":"t"}"#);
    assert_eq!(
        create_tenant_with(&functions, with_charset).await.status,
        201
    );
}

// ---- token endpoint: bad input (RFC 6749 §5.2) ----------------------------------------

struct Registered {
    functions: Functions,
    tenant: String,
    client_id: String,
    secret: String,
}

async fn registered() -> Registered {
    let functions = iam_functions();
    let tenant = functions.create_tenant("t").await;
    let app = functions.register_app(&tenant, "a").await;
    let client_id = app["clientId"].as_str().expect("id").to_owned();
    let secret = app["secret"].as_str().expect("secret").to_owned();
    Registered {
        functions,
        tenant,
        client_id,
        secret,
    }
}

impl Registered {
    fn token_path(&self) -> String {
        format!("/oauth/v4/{}/token", self.tenant)
    }

    async fn post(
        &self,
        authorization: Option<String>,
        content_type: Option<&str>,
        body: &str,
    ) -> Answer {
        let path = self.token_path();
        let mut event = Event::new("POST", &path).body(body);
        if let Some(value) = authorization {
            event = event.header("authorization", value);
        }
        if let Some(value) = content_type {
            event = event.header("content-type", value);
        }
        self.functions.token(event).await
    }

    async fn with_basic(&self, authorization: String) -> Answer {
        self.post(
            Some(authorization),
            Some("application/x-www-form-urlencoded"),
            "grant_type=client_credentials",
        )
        .await
    }
}

fn assert_invalid_client(answer: &Answer) {
    assert_oauth_error(answer, 401, "invalid_client");
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Basic realm="appid""#)
    );
}

#[tokio::test]
async fn missing_or_malformed_basic_credentials_are_invalid_client() {
    let app = registered().await;
    let missing = app
        .post(
            None,
            Some("application/x-www-form-urlencoded"),
            "grant_type=client_credentials",
        )
        .await;
    assert_invalid_client(&missing);
    for header in [
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic bm9jb2xvbg==",
        "Bearer abc",
        "Basic /w==",
        format!("Digest {}", app.secret).as_str(),
    ] {
        assert_invalid_client(&app.with_basic(header.to_owned()).await);
    }
}

#[tokio::test]
async fn unknown_client_and_wrong_secret_answer_the_same_bytes() {
    let app = registered().await;
    let wrong_secret = app
        .with_basic(basic(&app.client_id, "not-the-secret"))
        .await;
    let unknown = app
        .with_basic(basic("5d3f0c1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f", &app.secret))
        .await;
    let not_a_uuid = app.with_basic(basic("some-client", &app.secret)).await;
    assert_invalid_client(&wrong_secret);
    for other in [&unknown, &not_a_uuid] {
        assert_eq!(
            (other.status, &other.raw),
            (wrong_secret.status, &wrong_secret.raw)
        );
        assert_eq!(other.headers, wrong_secret.headers);
    }
}

#[tokio::test]
async fn credentials_of_one_tenant_are_invalid_client_at_another() {
    let app = registered().await;
    let other_tenant = app.functions.create_tenant("other").await;
    let path = format!("/oauth/v4/{other_tenant}/token");
    let event = Event::new("POST", &path)
        .header("authorization", basic(&app.client_id, &app.secret))
        .form("grant_type=client_credentials");
    assert_invalid_client(&app.functions.token(event).await);
}

#[tokio::test]
async fn grant_type_must_be_present_once_and_be_client_credentials() {
    let app = registered().await;
    let auth = || Some(basic(&app.client_id, &app.secret));
    let form = Some("application/x-www-form-urlencoded");
    for body in ["", "grant_type=", "scope=read"] {
        assert_oauth_error(&app.post(auth(), form, body).await, 400, "invalid_request");
    }
    let repeated = app
        .post(
            auth(),
            form,
            "grant_type=client_credentials&grant_type=client_credentials",
        )
        .await;
    assert_oauth_error(&repeated, 400, "invalid_request");
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let answer = app.post(auth(), form, &format!("grant_type={grant}")).await;
        assert_oauth_error(&answer, 400, "unsupported_grant_type");
    }
    let ok = app
        .post(
            auth(),
            form,
            "grant_type=client_credentials&unrelated=ignored",
        )
        .await;
    assert_eq!(
        ok.status, 200,
        "unknown parameters are ignored (RFC 6749 §3.2): {}",
        ok.raw
    );
}

#[tokio::test]
async fn token_requests_must_be_form_encoded() {
    let app = registered().await;
    let auth = || Some(basic(&app.client_id, &app.secret));
    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let answer = app
            .post(auth(), content_type, "grant_type=client_credentials")
            .await;
        assert_oauth_error(&answer, 400, "invalid_request");
    }
    let with_charset = app
        .post(
            auth(),
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(with_charset.status, 200, "{}", with_charset.raw);
}

#[tokio::test]
async fn basic_credentials_are_form_url_decoded() {
    let app = registered().await;
    let id_encoded = app.client_id.replace('-', "%2D");
    let answer = app.with_basic(basic(&id_encoded, &app.secret)).await;
    assert_eq!(
        answer.status, 200,
        "RFC 6749 §2.3.1 encoding: {}",
        answer.raw
    );
}

// ---- client authentication methods and discovery ---------------------------------------

#[tokio::test]
async fn credentials_in_the_body_are_client_secret_post() {
    let app = registered().await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        app.client_id, app.secret
    );
    let form = Some("application/x-www-form-urlencoded");
    let answer = app.post(None, form, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);

    let wrong = format!(
        "grant_type=client_credentials&client_id={}&client_secret=nope",
        app.client_id
    );
    assert_invalid_client(&app.post(None, form, &wrong).await);
    let id_only = format!("grant_type=client_credentials&client_id={}", app.client_id);
    assert_invalid_client(&app.post(None, form, &id_only).await);
}

#[tokio::test]
async fn one_request_uses_one_client_authentication_method() {
    let app = registered().await;
    let form = Some("application/x-www-form-urlencoded");
    let auth = || Some(basic(&app.client_id, &app.secret));
    let both = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        app.client_id, app.secret
    );
    assert_oauth_error(&app.post(auth(), form, &both).await, 400, "invalid_request");
    let other_id = "grant_type=client_credentials&client_id=5d3f0c1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f";
    assert_oauth_error(
        &app.post(auth(), form, other_id).await,
        400,
        "invalid_request",
    );
    let same_id = format!("grant_type=client_credentials&client_id={}", app.client_id);
    assert_eq!(
        app.post(auth(), form, &same_id).await.status,
        200,
        "the Basic client named again"
    );
    let repeated = format!(
        "grant_type=client_credentials&client_id={0}&client_id={0}&client_secret=x",
        app.client_id
    );
    assert_oauth_error(
        &app.post(None, form, &repeated).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn metadata_describes_the_tenants_issuer_and_endpoints() {
    let app = registered().await;
    let issuer = format!("{DOMAIN_ORIGIN}/oauth/v4/{}", app.tenant);
    for path in [
        format!("/oauth/v4/{}/.well-known/openid-configuration", app.tenant),
        format!(
            "/oauth/v4/{}/.well-known/oauth-authorization-server",
            app.tenant
        ),
        format!(
            "/.well-known/oauth-authorization-server/oauth/v4/{}",
            app.tenant
        ),
    ] {
        let answer = app.functions.token(Event::new("GET", &path)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.raw);
        assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
        let doc = &answer.body;
        assert_eq!(doc["issuer"], json!(issuer));
        assert_eq!(doc["token_endpoint"], json!(format!("{issuer}/token")));
        assert_eq!(doc["jwks_uri"], json!(format!("{issuer}/publickeys")));
        assert_eq!(doc["grant_types_supported"], json!(["client_credentials"]));
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post"])
        );
    }
    let unknown = "/oauth/v4/0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11/.well-known/openid-configuration";
    assert_oauth_error(
        &app.functions.token(Event::new("GET", unknown)).await,
        404,
        "tenant_not_found",
    );
    let post = format!("/oauth/v4/{}/.well-known/openid-configuration", app.tenant);
    assert_eq!(
        app.functions.token(Event::new("POST", &post)).await.status,
        405
    );
}

#[tokio::test]
async fn over_its_rate_a_tenant_gets_429_with_retry_after_until_the_next_second() {
    use appid::ratelimit::{RateLimit, RateLimiter};

    let mut app = registered().await;
    let limiter = RateLimiter::new(
        RateLimit {
            per_second: 1,
            burst: 2,
        },
        app.functions.clock.clone(),
    );
    app.functions.token = std::mem::take(&mut app.functions.token).with_rate_limiter(limiter);
    for _ in 0..2 {
        assert_eq!(
            app.with_basic(basic(&app.client_id, &app.secret))
                .await
                .status,
            200
        );
    }
    let limited = app.with_basic(basic(&app.client_id, &app.secret)).await;
    assert_oauth_error(&limited, 429, "too_many_requests");
    assert_eq!(
        limited.body["error_code"],
        json!("too many requests"),
        "App ID's body"
    );
    assert_eq!(limited.header("retry-after"), Some("1"));
    let introspect = format!("/oauth/v4/{}/introspect", app.tenant);
    let event = Event::new("POST", &introspect)
        .header("authorization", basic(&app.client_id, &app.secret))
        .form("token=x");
    assert_eq!(
        app.functions.token(event).await.status,
        429,
        "the same budget"
    );
    let keys = app
        .functions
        .token(Event::new(
            "GET",
            &format!("/oauth/v4/{}/publickeys", app.tenant),
        ))
        .await;
    assert_eq!(keys.status, 200, "public keys are not limited");
    app.functions.advance(1);
    assert_eq!(
        app.with_basic(basic(&app.client_id, &app.secret))
            .await
            .status,
        200
    );
}
