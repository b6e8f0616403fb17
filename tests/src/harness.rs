//! The two Lambda functions in-process, as their `main`s wire them, over the embedded store and
//! a local key vault (or any other adapters), with a pinned clock and pinned randomness.

use std::io::Write;
use std::sync::{Arc, Mutex};

use appid::domain::BaseUrl;
use appid::http::{AdminAuth, Api, lambda};
use appid::metrics::MetricsSink;
use appid::ports::{KeyVault, Store};
use appid::service::{Management, TenantDefaults, TokenIssuer};
use appid::signing::local::LocalVault;
use appid::store::embedded::EmbeddedStore;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use serde_json::{Value, json};

use crate::events::Event;
use crate::{FixedClock, SeededRandom};

/// The instant every test token is issued at.
pub const NOW: u64 = 1_796_324_400;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdefghijklmnop";

pub struct Functions {
    pub management: Api,
    pub token: Api,
    pub public_url: Option<BaseUrl>,
    /// The clock both functions read; tests move it forward.
    pub clock: Arc<FixedClock>,
    /// The Embedded Metric Format lines both functions wrote, as on Lambda's standard output.
    pub metrics: SharedBuffer,
    _dir: Option<tempfile::TempDir>,
}

/// Bytes written by one side and read by another, as a metrics sink.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// The JSON lines written since the last call.
    pub fn take_lines(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().expect("buffer"));
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A response as a caller sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub raw: String,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks an error answer: its status and code, a description, JSON, and `no-store`.
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!((self.status, self.error()), (status, error), "{}", self.raw);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("content-type"), Some("application/json"));
        let described = self.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty());
        assert!(described, "{}", self.raw);
    }

    /// The `error` code of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<no error code>")
    }
}

impl Functions {
    /// Both functions over a fresh embedded store and an in-memory key vault; management behind
    /// `admin`.
    pub fn embedded(admin: AdminAuth) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("store"));
        let mut functions = Self::over(store, Arc::new(LocalVault::ephemeral()), admin);
        functions._dir = Some(dir);
        functions
    }

    pub fn over(store: Arc<dyn Store>, vault: Arc<dyn KeyVault>, admin: AdminAuth) -> Self {
        let clock = Arc::new(FixedClock::at(NOW));
        let random = Arc::new(SeededRandom::new(7));
        let management = Management::new(
            store.clone(),
            vault.clone(),
            clock.clone(),
            random.clone(),
            TenantDefaults::default(),
        );
        let issuer = TokenIssuer::new(store, vault, clock.clone(), random);
        let metrics = SharedBuffer::default();
        let sink = || MetricsSink::to(Box::new(metrics.clone()));
        Self {
            management: Api::default()
                .with_metrics(sink())
                .with_management(management, admin),
            token: Api::default().with_metrics(sink()).with_oauth(issuer),
            public_url: None,
            clock,
            metrics,
            _dir: None,
        }
    }

    pub async fn management(&self, event: Event<'_>) -> Answer {
        call(&self.management, self.public_url.as_ref(), event).await
    }

    pub async fn token(&self, event: Event<'_>) -> Answer {
        call(&self.token, self.public_url.as_ref(), event).await
    }

    /// Creates a tenant through the management function (IAM-authorized); returns its id.
    pub async fn create_tenant(&self, name: &str) -> String {
        self.create_tenant_with(json!({"name": name})).await
    }

    /// Creates a tenant from a full creation body; returns its id.
    pub async fn create_tenant_with(&self, body: Value) -> String {
        let answer = self
            .management(admin(Event::new("POST", "/management/v4/tenants")).json(&body))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.raw);
        answer.body["tenantId"]
            .as_str()
            .expect("tenantId")
            .to_owned()
    }

    /// The tenant's signing-key configuration (`GET /config/keys`).
    pub async fn key_config(&self, tenant: &str) -> Value {
        let answer = self
            .admin_call("GET", &format!("/{tenant}/config/keys"), None)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        answer.body
    }

    /// The kid of the tenant's current signing key.
    pub async fn current_kid(&self, tenant: &str) -> String {
        let config = self.key_config(tenant).await;
        let keys = config["keys"].as_array().expect("keys");
        let current = keys.iter().find(|k| k["status"] == "current");
        current
            .and_then(|k| k["kid"].as_str())
            .expect("a current key")
            .to_owned()
    }

    /// Registers an app; returns App ID's registration body.
    pub async fn register_app(&self, tenant: &str, name: &str) -> Value {
        let path = format!("/management/v4/{tenant}/applications");
        let answer = self
            .management(admin(Event::new("POST", &path)).json(&json!({"name": name})))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.raw);
        answer.body
    }

    /// A management call with the admin credential and, when given, a JSON body.
    pub async fn admin_call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let path = format!("/management/v4{path}");
        let mut event = admin(Event::new(method, &path));
        if let Some(body) = body {
            event = event.json(&body);
        }
        self.management(event).await
    }

    /// Moves the clock of both functions forward.
    pub fn advance(&self, seconds: u64) {
        self.clock
            .0
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Asks for a token with HTTP Basic credentials.
    pub async fn request_token(&self, tenant: &str, client_id: &str, secret: &str) -> Answer {
        let path = format!("/oauth/v4/{tenant}/token");
        self.token(
            Event::new("POST", &path)
                .header("authorization", basic(client_id, secret))
                .form("grant_type=client_credentials"),
        )
        .await
    }
}

/// Adds the admin credential whichever mode the harness runs in: an IAM principal and the
/// bearer token.
pub fn admin(event: Event<'_>) -> Event<'_> {
    event
        .iam("arn:aws:iam::123456789012:user/admin")
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

pub fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")))
}

async fn call(api: &Api, public_url: Option<&BaseUrl>, event: Event<'_>) -> Answer {
    let response = lambda::handle(api, public_url, event.into_request()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = match response.into_body() {
        lambda_http::Body::Text(text) => text,
        lambda_http::Body::Binary(bytes) => String::from_utf8(bytes).expect("UTF-8 body"),
        _ => String::new(),
    };
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        raw,
        body,
    }
}

/// Verifies `token` with an independent JWT library against the published key set, and
/// returns its header and claims.
pub fn verify(
    token: &str,
    keys: &Value,
    issuer: &str,
    audience: &str,
) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(token).expect("JWS header");
    let kid = header.kid.clone().expect("kid");
    let jwk = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("key by kid");
    let member = |name: &str| jwk[name].as_str().expect("JWK member");
    let key = match header.alg {
        Algorithm::RS256 => DecodingKey::from_rsa_components(member("n"), member("e")),
        Algorithm::ES256 => DecodingKey::from_ec_components(member("x"), member("y")),
        other => panic!("unexpected algorithm {other:?}"),
    }
    .expect("public key");
    assert_eq!(
        jwk["alg"],
        json!(format!("{:?}", header.alg)),
        "the key names its algorithm"
    );
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_exp = false; // issued at the pinned NOW, which may be in the past
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("valid signature and claims");
    (header, data.claims)
}
