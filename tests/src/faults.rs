//! A store and a key vault that inject the failures moto cannot produce on demand: throttling,
//! unreadable items, writers that always lose the race, and KMS throttled, unreachable or with
//! its key disabled. Each wraps a real adapter, so everything not faulted behaves as the real
//! thing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use appid::domain::{Algorithm, App, ClientId, Role, RoleId, SigningKey, Tenant, TenantId};
use appid::jwk::Jwk;
use appid::ports::{
    KeyVault, Page, PageRequest, SignError, Store, StoreError, TokenSigner, TokenState,
};
use async_trait::async_trait;
use uuid::Uuid;

/// Which failure to inject while the store is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every call is throttled, as DynamoDB does over its capacity.
    Throttled,
    /// Every read finds an item it cannot parse.
    Corrupt,
    /// Every replacement finds that another write came first.
    LosesRaces,
}

pub struct FaultyStore<S> {
    inner: S,
    fault: Fault,
    armed: AtomicBool,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`; the fault is injected only once [`arm`](Self::arm) is called, so tests
    /// can set up data first.
    pub fn new(inner: S, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            armed: AtomicBool::new(false),
        }
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    fn check(&self, kind: Call) -> Result<(), StoreError> {
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        match (self.fault, kind) {
            (Fault::Throttled, _) => Err(StoreError::Throttled("injected throttling".into())),
            (Fault::Corrupt, Call::Read) => Err(StoreError::Corrupt("injected damage".into())),
            (Fault::LosesRaces, Call::Replace) => Err(StoreError::VersionConflict),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Copy)]
enum Call {
    Read,
    Write,
    Replace,
}

#[async_trait]
impl<S: Store> Store for FaultyStore<S> {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.insert_tenant(tenant).await
    }
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.check(Call::Read)?;
        self.inner.tenant(id).await
    }
    async fn tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError> {
        self.check(Call::Read)?;
        self.inner.tenants(page).await
    }
    async fn replace_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.check(Call::Replace)?;
        self.inner.replace_tenant(tenant).await
    }
    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.delete_tenant(id).await
    }
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.insert_app(app).await
    }
    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError> {
        self.check(Call::Read)?;
        self.inner.app(tenant, client).await
    }
    async fn apps(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<App>, StoreError> {
        self.check(Call::Read)?;
        self.inner.apps(tenant, page).await
    }
    async fn replace_app(&self, app: &App) -> Result<(), StoreError> {
        self.check(Call::Replace)?;
        self.inner.replace_app(app).await
    }
    async fn delete_app(&self, tenant: &TenantId, client: &ClientId) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.delete_app(tenant, client).await
    }
    async fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.insert_role(role).await
    }
    async fn role(&self, tenant: &TenantId, id: &RoleId) -> Result<Option<Role>, StoreError> {
        self.check(Call::Read)?;
        self.inner.role(tenant, id).await
    }
    async fn roles(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Role>, StoreError> {
        self.check(Call::Read)?;
        self.inner.roles(tenant, page).await
    }
    async fn replace_role(&self, role: &Role) -> Result<(), StoreError> {
        self.check(Call::Replace)?;
        self.inner.replace_role(role).await
    }
    async fn delete_role(&self, tenant: &TenantId, id: &RoleId) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.delete_role(tenant, id).await
    }
    async fn client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<(Tenant, App)>, StoreError> {
        self.check(Call::Read)?;
        self.inner.client(tenant, client).await
    }
    async fn grants(
        &self,
        tenant: &TenantId,
        roles: &[RoleId],
        audience: Option<&ClientId>,
    ) -> Result<(Vec<Role>, Option<App>), StoreError> {
        self.check(Call::Read)?;
        self.inner.grants(tenant, roles, audience).await
    }
    async fn revoke(
        &self,
        tenant: &TenantId,
        jti: &Uuid,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.check(Call::Write)?;
        self.inner.revoke(tenant, jti, expires_at).await
    }
    async fn token_state(
        &self,
        tenant: &TenantId,
        client: &ClientId,
        jti: &Uuid,
    ) -> Result<TokenState, StoreError> {
        self.check(Call::Read)?;
        self.inner.token_state(tenant, client, jti).await
    }
}

/// Which failure a [`FaultyVault`] injects while armed, as KMS reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFault {
    /// KMS is over its request quota.
    Throttled,
    /// The key is disabled, pending deletion or gone.
    KeyUnusable,
    /// KMS cannot be reached or timed out.
    Unavailable,
}

/// A key vault, and the signers it opens, that fail on demand: every call while armed, whether
/// to make, open or destroy a key or to sign. It wraps a real vault, so everything else behaves
/// as the real thing.
pub struct FaultyVault<V> {
    inner: V,
    fault: KeyFault,
    armed: Arc<AtomicBool>,
}

impl<V> FaultyVault<V> {
    pub fn new(inner: V, fault: KeyFault) -> Self {
        Self {
            inner,
            fault,
            armed: Arc::default(),
        }
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The fault clears, as a throttled or unreachable KMS does by itself.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

fn key_check(armed: &AtomicBool, fault: KeyFault) -> Result<(), SignError> {
    if !armed.load(Ordering::SeqCst) {
        return Ok(());
    }
    let injected = "injected KMS failure".into();
    Err(match fault {
        KeyFault::Throttled => SignError::Throttled(injected),
        KeyFault::KeyUnusable => SignError::KeyUnusable(injected),
        KeyFault::Unavailable => SignError::Unavailable(injected),
    })
}

#[async_trait]
impl<V: KeyVault> KeyVault for FaultyVault<V> {
    async fn create_key(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError> {
        key_check(&self.armed, self.fault)?;
        self.inner.create_key(tenant, algorithm, now).await
    }

    async fn open(
        &self,
        tenant: &TenantId,
        key: &SigningKey,
    ) -> Result<Arc<dyn TokenSigner>, SignError> {
        key_check(&self.armed, self.fault)?;
        let inner = self.inner.open(tenant, key).await?;
        Ok(Arc::new(FaultySigner {
            inner,
            fault: self.fault,
            armed: Arc::clone(&self.armed),
        }))
    }

    async fn destroy(&self, key: &SigningKey) -> Result<(), SignError> {
        key_check(&self.armed, self.fault)?;
        self.inner.destroy(key).await
    }
}

struct FaultySigner {
    inner: Arc<dyn TokenSigner>,
    fault: KeyFault,
    armed: Arc<AtomicBool>,
}

#[async_trait]
impl TokenSigner for FaultySigner {
    fn public_jwk(&self) -> &Jwk {
        self.inner.public_jwk()
    }

    fn algorithm(&self) -> Algorithm {
        self.inner.algorithm()
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        key_check(&self.armed, self.fault)?;
        self.inner.sign(signing_input).await
    }
}
