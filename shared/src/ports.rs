//! The narrow traits the service needs from the world outside it. Each has an AWS adapter and an
//! embedded one; tests pin the clock and the randomness.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use uuid::Uuid;

pub use crate::domain::Algorithm;
use crate::domain::{App, ClientId, Role, RoleId, SigningKey, Tenant, TenantId};
use crate::jwk::Jwk;

/// A failure of the machinery behind a port, kept as the source of the port's error.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Where tenants, apps and roles live. Every write is conditional: inserts never overwrite,
/// replacements succeed only over the version they read, deletes only remove what exists.
///
/// Reads of items below a tenant do not check the tenant itself; the service does that where a
/// caller could reach them.
#[async_trait]
pub trait Store: Send + Sync {
    /// Adds a tenant; [`StoreError::AlreadyExists`] if its id is taken.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    async fn tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError>;
    /// Replaces a tenant read at `tenant.version`.
    async fn replace_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Removes a tenant and everything in it: apps, roles and keys.
    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError>;

    /// Adds an app to an existing tenant, atomically with the check that the tenant exists.
    async fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError>;
    async fn apps(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<App>, StoreError>;
    /// Replaces an app read at `app.version`.
    async fn replace_app(&self, app: &App) -> Result<(), StoreError>;
    async fn delete_app(&self, tenant: &TenantId, client: &ClientId) -> Result<(), StoreError>;

    /// Adds a role to an existing tenant, atomically with the check that the tenant exists.
    async fn insert_role(&self, role: &Role) -> Result<(), StoreError>;
    async fn role(&self, tenant: &TenantId, id: &RoleId) -> Result<Option<Role>, StoreError>;
    async fn roles(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Role>, StoreError>;
    /// Replaces a role read at `role.version`.
    async fn replace_role(&self, role: &Role) -> Result<(), StoreError>;
    async fn delete_role(&self, tenant: &TenantId, id: &RoleId) -> Result<(), StoreError>;

    /// The first read of the token path: an app together with its tenant, in one round trip.
    /// `None` unless both exist.
    async fn client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<(Tenant, App)>, StoreError>;

    /// Records that token `jti` of the tenant is revoked. The record is needed only until
    /// `expires_at`, the token's own expiry, and may be dropped after it.
    async fn revoke(
        &self,
        tenant: &TenantId,
        jti: &Uuid,
        expires_at: u64,
    ) -> Result<(), StoreError>;

    /// Whether a token's client still exists and whether the token was revoked, in one round
    /// trip.
    async fn token_state(
        &self,
        tenant: &TenantId,
        client: &ClientId,
        jti: &Uuid,
    ) -> Result<TokenState, StoreError>;

    /// The second read of the token path, made only when the caller has roles or names another
    /// app as audience: those roles and that app, in one round trip. Missing items are left out.
    async fn grants(
        &self,
        tenant: &TenantId,
        roles: &[RoleId],
        audience: Option<&ClientId>,
    ) -> Result<(Vec<Role>, Option<App>), StoreError>;
}

/// What introspection needs to know of a token beyond its signature and claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    /// The app the token was issued to still exists (and its tenant).
    pub client_exists: bool,
    /// The token was revoked.
    pub revoked: bool,
}

/// Which page of a listing to read: at most `limit` items after the item whose id is `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 50;
    pub const MAX_LIMIT: usize = 100;

    pub fn first(limit: usize) -> Self {
        Self { limit, after: None }
    }
}

/// One page of a listing, ordered by id; `next` is the id to continue after, if more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the tenant does not exist")]
    TenantNotFound,
    #[error("the item does not exist")]
    NotFound,
    #[error("an item with this id already exists")]
    AlreadyExists,
    #[error("the item changed since it was read")]
    VersionConflict,
    #[error("the store refused the request for now (throttled)")]
    Throttled(#[source] BoxError),
    #[error("the store could not be reached or failed")]
    Unavailable(#[source] BoxError),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
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

/// Makes tenants' signing keys and opens them for signing. The private halves never leave its
/// custody in the clear: they stay inside KMS, or are kept encrypted under a wrapping key.
#[async_trait]
pub trait KeyVault: Send + Sync {
    /// A new key pair for `tenant`, created at `now`; its state is for the caller to set.
    async fn create_key(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError>;

    /// A signer over `key`: bound to its KMS key, or holding its decrypted private key. Made
    /// once per process and key, since a key id always names the same key.
    async fn open(
        &self,
        tenant: &TenantId,
        key: &SigningKey,
    ) -> Result<Arc<dyn TokenSigner>, SignError>;

    /// Destroys the private half of a key that neither signs nor is published any more.
    async fn destroy(&self, key: &SigningKey) -> Result<(), SignError>;
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

    /// Ids come from a per-thread reserve of the generator's output, refilled for
    /// [`IDS_PER_FILL`] ids at a time: the token path takes one per token (its `jti`), and a
    /// call into the generator costs more than the id. Ids are public once handed out; secrets
    /// are drawn through [`Random::fill`] as they are needed and never kept.
    fn uuid(&self) -> Uuid {
        thread_local! {
            static RESERVE: RefCell<IdReserve> = const {
                RefCell::new(IdReserve { bytes: [0; IDS_PER_FILL * 16], taken: IDS_PER_FILL })
            };
        }
        RESERVE.with_borrow_mut(|reserve| {
            if reserve.taken == IDS_PER_FILL {
                self.fill(&mut reserve.bytes);
                reserve.taken = 0;
            }
            let mut id = [0; 16];
            let start = reserve.taken * 16;
            id.copy_from_slice(&reserve.bytes[start..start + 16]);
            reserve.taken += 1;
            uuid::Builder::from_random_bytes(id).into_uuid()
        })
    }
}

/// How many ids [`SystemRandom::uuid`] draws from the generator at once.
pub const IDS_PER_FILL: usize = 64;

struct IdReserve {
    bytes: [u8; IDS_PER_FILL * 16],
    /// Ids already handed out of `bytes`.
    taken: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ids_are_random_version_4_uuids_across_refills() {
        let ids: std::collections::HashSet<Uuid> =
            (0..IDS_PER_FILL * 3).map(|_| SystemRandom.uuid()).collect();
        assert_eq!(ids.len(), IDS_PER_FILL * 3, "no id repeats");
        assert!(ids.iter().all(|id| id.get_version_num() == 4));
    }
}
