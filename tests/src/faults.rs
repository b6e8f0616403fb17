//! A store that injects the failures moto cannot produce on demand: throttling, unreadable
//! items, and writers that always lose the race. It wraps a real store, so everything not
//! faulted behaves as the real thing.

use std::sync::atomic::{AtomicBool, Ordering};

use appid::domain::{App, ClientId, Role, RoleId, Tenant, TenantId};
use appid::ports::{Page, PageRequest, Store, StoreError, TokenState};
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
