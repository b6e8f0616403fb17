//! Any request a caller can send, to every route, through the same `Api` appid-local and the
//! Lambda functions serve: method, path (with the fixture's real ids or arbitrary segments),
//! credentials (none, the admin token, the app's Basic credentials, arbitrary bytes), content
//! type, query, body and source address (through the guessing guard). Whatever comes in, the answer is never a panic or a 500, every error is
//! the documented JSON body, and no answer carries the app's secret.

#![no_main]

use std::sync::{Arc, OnceLock};

use appid::domain::{BaseUrl, TokenTtl};
use appid::guessing::{GuessingGuard, SourceAddr};
use appid::http::{AdminAuth, Api};
use appid::ports::{SystemClock, SystemRandom};
use appid::service::{Management, TenantDefaults, TokenIssuer};
use appid::signing::local::LocalVault;
use appid::store::embedded::EmbeddedStore;
use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const ADMIN: &str = "fuzz-admin-token-0123456789abcdefghijklmnop";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    api: Api,
    origin: BaseUrl,
    tenant: String,
    client: String,
    secret: String,
    role: String,
}

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Admin,
    AppBasic,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    template: u8,
    real_ids: bool,
    segments: Vec<String>,
    auth: Auth,
    content_type: Option<String>,
    query: Option<String>,
    body: Vec<u8>,
    source: Option<[u8; 16]>,
}

const TEMPLATES: &[&str] = &[
    "/management/v4/tenants",
    "/management/v4/tenants/{t}",
    "/management/v4/{t}/applications",
    "/management/v4/{t}/applications/{c}",
    "/management/v4/{t}/applications/{c}/scopes",
    "/management/v4/{t}/applications/{c}/roles",
    "/management/v4/{t}/applications/{c}/secret",
    "/management/v4/{t}/applications/{c}/config/tokens",
    "/management/v4/{t}/roles",
    "/management/v4/{t}/roles/{r}",
    "/management/v4/{t}/config/tokens",
    "/management/v4/{t}/config/keys",
    "/management/v4/{t}/config/keys/rotate",
    "/oauth/v4/{t}/token",
    "/oauth/v4/{t}/introspect",
    "/oauth/v4/{t}/revoke",
    "/oauth/v4/{t}/publickeys",
    "/oauth/v4/{t}/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server/oauth/v4/{t}",
    "/openapi.yaml",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let store = Arc::new(EmbeddedStore::open(&dir.join("store.redb")).expect("store"));
        let vault = Arc::new(LocalVault::ephemeral());
        let defaults = TenantDefaults {
            token_ttl: TokenTtl::DEFAULT,
            key_publication_lead: 0,
            ..TenantDefaults::default()
        };
        let clock = Arc::new(SystemClock);
        let random = Arc::new(SystemRandom);
        let management =
            Management::new(store.clone(), vault.clone(), clock.clone(), random.clone(), defaults);
        let issuer = TokenIssuer::new(store, vault, clock.clone(), random);
        let admin = AdminAuth::token(ADMIN).expect("admin token");
        let api = Api::default()
            .with_management(management, admin)
            .with_oauth(issuer)
            .with_guessing_guard(GuessingGuard::new(10, clock))
            .with_openapi();
        let origin = BaseUrl::parse("http://127.0.0.1:8080").expect("origin");
        let call = |method: &str, path: String, body: serde_json::Value| {
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {ADMIN}"))
                .header("content-type", "application/json")
                .body(Bytes::from(body.to_string()))
                .expect("request");
            let response = runtime.block_on(api.handle(request, &origin));
            serde_json::from_slice::<serde_json::Value>(response.body()).expect("JSON")
        };
        let tenant = call("POST", "/management/v4/tenants".into(), serde_json::json!({"name": "fuzz"}));
        let t = tenant["tenantId"].as_str().expect("tenant").to_owned();
        let app = call("POST", format!("/management/v4/{t}/applications"), serde_json::json!({"name": "a"}));
        let c = app["clientId"].as_str().expect("client").to_owned();
        let secret = app["secret"].as_str().expect("secret").to_owned();
        let role = call("POST", format!("/management/v4/{t}/roles"), serde_json::json!({"name": "r"}));
        let r = role["id"].as_str().expect("role").to_owned();
        Fixture { runtime, api, origin, tenant: t, client: c, secret, role: r }
    })
}

fuzz_target!(|input: Input| {
    let f = fixture();
    let template = TEMPLATES[usize::from(input.template) % TEMPLATES.len()];
    let mut segments = input.segments.iter();
    let mut id = |real: &str| -> String {
        match (input.real_ids, segments.next()) {
            (false, Some(raw)) => raw.clone(),
            _ => real.to_owned(),
        }
    };
    let mut path = template.replace("{t}", &id(&f.tenant));
    path = path.replace("{c}", &id(&f.client)).replace("{r}", &id(&f.role));
    if let Some(query) = &input.query {
        path = format!("{path}?{query}");
    }
    let Ok(uri) = path.parse::<http::Uri>() else { return };
    let mut request = http::Request::builder()
        .method(METHODS[usize::from(input.method) % METHODS.len()])
        .uri(uri);
    match &input.auth {
        Auth::None => {}
        Auth::Admin => request = request.header("authorization", format!("Bearer {ADMIN}")),
        Auth::AppBasic => {
            let basic = base64_basic(&f.client, &f.secret);
            request = request.header("authorization", basic);
        }
        Auth::Raw(bytes) => match http::HeaderValue::from_bytes(bytes) {
            Ok(value) => request = request.header("authorization", value),
            Err(_) => return,
        },
    }
    if let Some(content_type) = &input.content_type {
        match http::HeaderValue::from_str(content_type) {
            Ok(value) => request = request.header("content-type", value),
            Err(_) => return,
        }
    }
    let Ok(mut request) = request.body(Bytes::from(input.body)) else { return };
    if let Some(bytes) = input.source {
        let ip = std::net::Ipv6Addr::from(bytes);
        let ip = ip.to_ipv4_mapped().map_or(std::net::IpAddr::V6(ip), std::net::IpAddr::V4);
        request.extensions_mut().insert(SourceAddr(ip));
    }
    let response = f.runtime.block_on(f.api.handle(request, &f.origin));
    let status = response.status().as_u16();
    assert_ne!(status, 500, "a server error for {template}");
    let body = response.body();
    assert!(
        !String::from_utf8_lossy(body).contains(&f.secret),
        "an answer carried the secret"
    );
    if status >= 400 {
        let error: serde_json::Value = serde_json::from_slice(body).expect("an error body is JSON");
        assert!(error["error"].is_string() && error["error_description"].is_string());
    }
});

fn base64_basic(client: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"));
    format!("Basic {encoded}")
}
