//! `appid-local`: the whole server on one port, with the embedded store and a local signing key
//! kept in a data directory. The binary only parses its flags and calls [`run`].
//!
//! The data directory holds `store.redb` (tenants, apps, roles and the tenants' signing keys,
//! each private key sealed under the master key), `master-key` (mode 0600) and, when no admin
//! token is configured, `admin-token` (mode 0600).

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::net::TcpListener;
use tokio::runtime::{self, Runtime};

use crate::domain::{Algorithm, BaseUrl, TokenTtl};
use crate::guessing::GuessingGuard;
use crate::http::{AdminAuth, Api, InvalidAdminToken, server};
use crate::ports::{Random, StoreError, SystemClock, SystemRandom};
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::service::{Management, TenantDefaults, TokenIssuer};
use crate::signing::local::{LocalKeyError, LocalVault, write_private_file};
use crate::store::embedded::EmbeddedStore;
use crate::telemetry;

/// Everything `appid-local` can be told. It has no `Debug`: it may hold the admin token.
#[derive(Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where callers reach the server, when not at the listen address.
    pub public_url: Option<BaseUrl>,
    /// The token lifetime new tenants start with.
    pub token_ttl: TokenTtl,
    /// The algorithm new tenants' tokens are signed with.
    pub algorithm: Algorithm,
    /// How long a next key is published before a rotation may make it sign.
    pub key_publication_lead: u64,
    /// Larger request bodies are refused with `413`.
    pub max_body_bytes: usize,
    /// Each tenant's request rate to the endpoints that take client credentials.
    pub rate_limit: RateLimit,
    /// Failed client authentications a client id and a source address may each have a minute.
    pub auth_failures_per_minute: u32,
    /// `APPID_ADMIN_TOKEN`; when absent one is generated and kept in the data directory.
    pub admin_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir { path: String, source: io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] LocalKeyError),
    #[error("the admin token from {origin} is unusable: {error}")]
    AdminToken {
        origin: String,
        error: InvalidAdminToken,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("the listen address gives no valid public URL ({0}); set --public-url")]
    Origin(String),
}

/// The runtime to [`run`] on. On one core it is a current-thread runtime: a work-stealing
/// scheduler has no other worker to share with there and only adds its bookkeeping to every
/// request. Its workers write their log lines in batches ([`telemetry::Delivery::Batched`]).
pub fn runtime() -> io::Result<Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut builder = if cores == 1 {
        runtime::Builder::new_current_thread()
    } else {
        runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .on_thread_park(telemetry::worker_parked)
        .on_thread_stop(telemetry::flush)
        .build()
}

/// Opens the data directory, binds the port and serves until Ctrl-C or SIGTERM.
pub async fn run(options: Options) -> Result<(), LocalError> {
    let (listener, origin, api) = start(options).await?;
    server::serve(api, listener, origin, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Everything [`run`] does before it serves: open the store, load or create the key and admin
/// token, bind. Tells the operator on stdout where the server is and where the token is kept.
pub async fn start(options: Options) -> Result<(TcpListener, BaseUrl, Arc<Api>), LocalError> {
    let dir = &options.data_dir;
    fs::create_dir_all(dir).map_err(|source| data_dir_error(dir, source))?;
    let admin = admin_auth(&options)?;
    let store = Arc::new(EmbeddedStore::open(&dir.join("store.redb"))?);
    let vault = Arc::new(LocalVault::load_or_generate(&dir.join("master-key"))?);
    let (clock, random) = (Arc::new(SystemClock), Arc::new(SystemRandom));
    let defaults = TenantDefaults {
        token_ttl: options.token_ttl,
        algorithm: options.algorithm,
        key_publication_lead: options.key_publication_lead,
    };
    let management = Management::new(
        store.clone(),
        vault.clone(),
        clock.clone(),
        random.clone(),
        defaults,
    );
    let issuer = TokenIssuer::new(store, vault, clock, random);
    let api = Api::default()
        .with_management(management, admin)
        .with_oauth(issuer)
        .with_openapi()
        .with_max_body_bytes(options.max_body_bytes)
        .with_rate_limiter(RateLimiter::new(options.rate_limit, Arc::new(SystemClock)))
        .with_guessing_guard(GuessingGuard::new(
            options.auth_failures_per_minute,
            Arc::new(SystemClock),
        ));

    let listener =
        TcpListener::bind(options.listen)
            .await
            .map_err(|source| LocalError::Listen {
                addr: options.listen,
                source,
            })?;
    let bound = listener.local_addr().map_err(|source| LocalError::Listen {
        addr: options.listen,
        source,
    })?;
    let origin = match options.public_url {
        Some(url) => url,
        None => listen_origin(bound)?,
    };
    println!("appid-local listening on http://{bound}");
    println!("issuer base URL: {origin}");
    Ok((listener, origin, Arc::new(api)))
}

/// The admin credential: the configured token, or the one kept in the data directory,
/// generated there on first start. The token itself is never printed, only where it is.
fn admin_auth(options: &Options) -> Result<AdminAuth, LocalError> {
    if let Some(token) = &options.admin_token {
        return AdminAuth::token(token).map_err(|error| LocalError::AdminToken {
            origin: "APPID_ADMIN_TOKEN".into(),
            error,
        });
    }
    let path = options.data_dir.join("admin-token");
    let token = match fs::read_to_string(&path) {
        Ok(token) => token.trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            SystemRandom.fill(&mut bytes);
            let token = URL_SAFE_NO_PAD.encode(bytes);
            write_private_file(&path, token.as_bytes()).map_err(|e| data_dir_error(&path, e))?;
            token
        }
        Err(e) => return Err(data_dir_error(&path, e)),
    };
    println!("APPID_ADMIN_TOKEN is not set: the management API takes the admin token kept in");
    println!("  {}", path.display());
    println!("  export APPID_ADMIN_TOKEN=\"$(cat {})\"", path.display());
    AdminAuth::token(&token).map_err(|error| LocalError::AdminToken {
        origin: path.display().to_string(),
        error,
    })
}

/// `http://<listen address>`, with `localhost` for an unspecified address such as `0.0.0.0`.
fn listen_origin(bound: SocketAddr) -> Result<BaseUrl, LocalError> {
    let text = if bound.ip().is_unspecified() {
        format!("http://localhost:{}", bound.port())
    } else {
        format!("http://{bound}")
    };
    BaseUrl::parse(&text).map_err(|e| LocalError::Origin(e.to_string()))
}

fn data_dir_error(path: &Path, source: io::Error) -> LocalError {
    LocalError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
