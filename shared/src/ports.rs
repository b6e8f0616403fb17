//! The narrow traits the service needs from the world outside it. Each has an AWS adapter and an
//! embedded one; tests pin the clock and the randomness.

use std::error::Error as StdError;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{App, ClientId, Tenant, TenantId};
use crate::jwk::Jwk;

/// A failure of the machinery behind a port, kept as the source of the port's error.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Where tenants and apps live. Every write is conditional: nothing is ever overwritten.
#[async_trait]
pub trait Store: Send + Sync {
    /// Adds a tenant; [`StoreError::AlreadyExists`] if its id is taken.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Adds an app to an existing tenant, atomically with the check that the tenant exists:
    /// [`StoreError::TenantNotFound`] if it does not, [`StoreError::AlreadyExists`] if the
    /// client id is taken.
    async fn insert_app(&self, app: &App) -> Result<(), StoreError>;

    /// The one read of the token path.
    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the tenant does not exist")]
    TenantNotFound,
    #[error("an item with this id already exists")]
    AlreadyExists,
    #[error("the store refused the request for now (throttled)")]
    Throttled(#[source] BoxError),
    #[error("the store could not be reached or failed")]
    Unavailable(#[source] BoxError),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
}

/// JWS algorithms a signer can produce (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
        }
    }
}

/// Holds a private key and signs JWS signing inputs with it. The public half, its key id and
/// its algorithm are known from construction on, so the token path asks for nothing but the
/// signature.
#[async_trait]
pub trait TokenSigner: Send + Sync {
    /// The public key as a JWK, with `kid` set to its RFC 7638 thumbprint.
    fn public_jwk(&self) -> &Jwk;

    fn algorithm(&self) -> Algorithm;

    /// Signs `signing_input` (the ASCII `header.payload` of RFC 7515 §5.1) and returns the raw
    /// signature bytes.
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the signing service refused the request for now (throttled)")]
    Throttled(#[source] BoxError),
    #[error("the signing key cannot be used (disabled, pending deletion or missing)")]
    KeyUnusable(#[source] BoxError),
    #[error("the signing service could not be reached or failed")]
    Unavailable(#[source] BoxError),
}

/// The current time, injected so that `iat` and `exp` can be pinned in tests.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Randomness for ids and secrets, injected so that tests can pin `jti` and client ids.
pub trait Random: Send + Sync {
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A version 4 UUID.
    fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// The operating system's CSPRNG, through AWS-LC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        // AWS-LC's generator fails only if the kernel's entropy source is gone, and then no
        // secret we could hand out would be safe: stopping is the only sound answer.
        aws_lc_rs::rand::fill(buf).expect("the system random generator failed");
    }
}
