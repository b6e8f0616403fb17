//! The operations of the authorization server, free of HTTP and of any particular store or key.
//!
//! [`Management`] administers tenants, apps and roles; [`TokenIssuer`] authenticates apps and
//! mints their access tokens. They are separate so that each Lambda function holds only the
//! ports (and so the IAM permissions) its operations use.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::domain::{
    Access, Algorithm, App, BaseUrl, ClientId, ClientSecret, Description,
    KEY_PUBLICATION_LEAD_SECONDS, KeySet, KeySetError, Name, PresentedSecret, Role, RoleId, Scope,
    SecretDigest, SecretEntry, SigningKey, Tenant, TenantId, TokenTtl,
};
use crate::jwt::{AMR_CLIENT_CREDENTIALS, Claims, TOKEN_VERSION, VerifiedClaims};
use crate::keyring::{Keyring, PublishedKeys};
use crate::ports::{Clock, KeyVault, Page, PageRequest, Random, SignError, Store, StoreError};

/// How long a replaced secret keeps working by default: long enough for a fleet to roll.
pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;
/// The longest grace period a rotation may ask for: one week.
pub const MAX_GRACE_SECONDS: u64 = 7 * 86_400;
/// Versioned writes that lost a race are retried this many times before `Conflict`.
const WRITE_ATTEMPTS: usize = 3;

/// Administration of tenants, apps, roles and signing keys.
pub struct Management {
    store: Arc<dyn Store>,
    vault: Arc<dyn KeyVault>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    defaults: TenantDefaults,
}

/// What a new tenant starts with until it changes it, and how its keys rotate.
#[derive(Debug, Clone, Copy)]
pub struct TenantDefaults {
    pub token_ttl: TokenTtl,
    pub algorithm: Algorithm,
    /// How long a next key is published before a rotation may make it sign.
    pub key_publication_lead: u64,
}

impl Default for TenantDefaults {
    fn default() -> Self {
        Self {
            token_ttl: TokenTtl::DEFAULT,
            algorithm: Algorithm::default(),
            key_publication_lead: KEY_PUBLICATION_LEAD_SECONDS,
        }
    }
}

/// The outcome of a scheduled rotation over every tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationSummary {
    pub rotated: usize,
    /// Tenants whose next key has not been published long enough yet.
    pub not_ready: usize,
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("the tenant does not exist")]
    TenantNotFound,
    #[error("the application does not exist")]
    AppNotFound,
    #[error("the role does not exist")]
    RoleNotFound,
    /// A role or an assignment names an app, a scope or a role that is not there.
    #[error("{0}")]
    InvalidRole(String),
    /// Concurrent writers kept changing the item.
    #[error("the item changed concurrently")]
    Conflict,
    #[error(transparent)]
    KeyNotReady(KeySetError),
    /// The key vault (KMS) could not make or destroy a key.
    #[error(transparent)]
    Keys(SignError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManagementError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TenantNotFound => Self::TenantNotFound,
            StoreError::VersionConflict => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

/// What a caller gives to create or replace a role.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: Name,
    pub description: Description,
    pub access: Vec<Access>,
}

impl Management {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        defaults: TenantDefaults,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
            random,
            defaults,
        }
    }

    // ---- tenants

    /// Creates a tenant with its current signing key and the next one, both published from
    /// the start.
    pub async fn create_tenant(
        &self,
        name: Name,
        algorithm: Option<Algorithm>,
    ) -> Result<Tenant, ManagementError> {
        let id = TenantId::generate(&*self.random);
        let algorithm = algorithm.unwrap_or(self.defaults.algorithm);
        let now = self.clock.now();
        let current = self.create_key(&id, algorithm, now).await?;
        let next = match self.create_key(&id, algorithm, now).await {
            Ok(next) => next,
            Err(error) => {
                self.destroy_keys(&[current]).await;
                return Err(error);
            }
        };
        let tenant = Tenant {
            id,
            name,
            token_ttl: self.defaults.token_ttl,
            keys: KeySet::new(current, next),
            created_at: now,
            version: 0,
        };
        if let Err(error) = self.store.insert_tenant(&tenant).await {
            self.destroy_keys(tenant.keys.keys()).await;
            return Err(error.into());
        }
        Ok(tenant)
    }

    pub async fn tenant(&self, id: TenantId) -> Result<Tenant, ManagementError> {
        self.store
            .tenant(&id)
            .await?
            .ok_or(ManagementError::TenantNotFound)
    }

    pub async fn tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, ManagementError> {
        Ok(self.store.tenants(page).await?)
    }

    pub async fn rename_tenant(&self, id: TenantId, name: Name) -> Result<Tenant, ManagementError> {
        self.update_tenant(id, |tenant| tenant.name = name.clone())
            .await
    }

    pub async fn set_token_ttl(
        &self,
        id: TenantId,
        ttl: TokenTtl,
    ) -> Result<Tenant, ManagementError> {
        self.update_tenant(id, |tenant| tenant.token_ttl = ttl)
            .await
    }

    /// Removes the tenant with its apps, roles and keys; their credentials stop working at once.
    pub async fn delete_tenant(&self, id: TenantId) -> Result<(), ManagementError> {
        let tenant = self.tenant(id).await?;
        self.store.delete_tenant(&id).await.map_err(|e| match e {
            StoreError::NotFound => ManagementError::TenantNotFound,
            other => other.into(),
        })?;
        self.destroy_keys(tenant.keys.keys()).await;
        Ok(())
    }

    // ---- signing keys

    /// Promotes the tenant's next key to sign its tokens, keeps the previous key published
    /// until its tokens have expired and publishes a new next key. Refused while the next key
    /// has not been published for the configured lead time, or while too many keys are still
    /// retiring.
    pub async fn rotate_keys(&self, id: TenantId) -> Result<Tenant, ManagementError> {
        let now = self.clock.now();
        let lead = self.defaults.key_publication_lead;
        let before = self.tenant(id).await?;
        before
            .keys
            .check_rotation(now, lead)
            .map_err(ManagementError::KeyNotReady)?;
        let algorithm = before.keys.next_algorithm();
        self.change_keys(id, algorithm, |keys, new_next| {
            if keys.next_algorithm() != algorithm {
                return Err(ManagementError::Conflict);
            }
            keys.rotate(new_next, now, lead)
                .map_err(ManagementError::KeyNotReady)
        })
        .await
    }

    /// Makes the tenant's next key one for `algorithm`, so that its tokens are signed with it
    /// from the next rotation on: a key must be published before it signs. Changes nothing if
    /// the next key already is one.
    pub async fn set_signing_algorithm(
        &self,
        id: TenantId,
        algorithm: Algorithm,
    ) -> Result<Tenant, ManagementError> {
        let tenant = self.tenant(id).await?;
        if tenant.keys.next_algorithm() == algorithm {
            return Ok(tenant);
        }
        let now = self.clock.now();
        self.change_keys(id, algorithm, |keys, new_next| {
            Ok(keys.replace_next(new_next, now))
        })
        .await
    }

    /// When the tenant's next key may be promoted by a rotation.
    pub fn rotation_allowed_at(&self, tenant: &Tenant) -> u64 {
        tenant.keys.ready_at(self.defaults.key_publication_lead)
    }

    /// Rotates the keys of every tenant whose next key is ready: what a schedule runs.
    pub async fn rotate_all_keys(&self) -> Result<RotationSummary, ManagementError> {
        let mut summary = RotationSummary::default();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let tenants = self.store.tenants(&page).await?;
            for tenant in &tenants.items {
                match self.rotate_keys(tenant.id).await {
                    Ok(rotated) => {
                        tracing::info!(
                            target: "audit",
                            action = "tenant.keys.rotate",
                            actor = "schedule",
                            tenant_id = %tenant.id,
                            kid = %rotated.keys.current().kid,
                            outcome = "success",
                            "request"
                        );
                        summary.rotated += 1;
                    }
                    Err(ManagementError::KeyNotReady(_) | ManagementError::TenantNotFound) => {
                        summary.not_ready += 1;
                    }
                    Err(error) => {
                        tracing::error!(tenant_id = %tenant.id, error = %error, "key rotation failed");
                        summary.failed += 1;
                    }
                }
            }
            match tenants.next {
                Some(after) => page.after = Some(after),
                None => return Ok(summary),
            }
        }
    }

    /// Creates a key for `algorithm`, applies `change` to the tenant's key set with it and
    /// writes the set back; then destroys the keys the change dropped, or the new key if the
    /// change did not take.
    async fn change_keys(
        &self,
        id: TenantId,
        algorithm: Algorithm,
        change: impl Fn(&mut KeySet, SigningKey) -> Result<Vec<SigningKey>, ManagementError>,
    ) -> Result<Tenant, ManagementError> {
        let new_key = self.create_key(&id, algorithm, self.clock.now()).await?;
        let dropped = Mutex::new(Vec::new());
        let written = read_change_write(
            || self.tenant(id),
            |tenant| {
                let gone = change(&mut tenant.keys, new_key.clone())?;
                *dropped.lock().unwrap_or_else(|p| p.into_inner()) = gone;
                Ok(())
            },
            &*self.store,
            |store, tenant| store.replace_tenant(tenant),
            || ManagementError::TenantNotFound,
        )
        .await;
        match &written {
            Ok(_) => {
                let dropped = dropped.into_inner().unwrap_or_else(|p| p.into_inner());
                self.destroy_keys(&dropped).await;
            }
            Err(_) => self.destroy_keys(&[new_key]).await,
        }
        written
    }

    async fn create_key(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, ManagementError> {
        self.vault
            .create_key(tenant, algorithm, now)
            .await
            .map_err(ManagementError::Keys)
    }

    /// Destroys the private halves of keys no longer in any tenant's set. A failure leaves a
    /// key that can no longer be reached: it is logged for the operator, not returned, since
    /// the change that dropped the key has been made.
    async fn destroy_keys(&self, keys: &[SigningKey]) {
        for key in keys {
            if let Err(error) = self.vault.destroy(key).await {
                tracing::error!(kid = %key.kid, error = %error, "cannot destroy a dropped signing key");
            }
        }
    }

    // ---- apps

    /// Registers an app and returns it with its secret, which exists nowhere else from then on:
    /// the store keeps only its digest.
    pub async fn register_app(
        &self,
        tenant_id: TenantId,
        name: Name,
    ) -> Result<(App, ClientSecret), ManagementError> {
        let secret = ClientSecret::generate(&*self.random);
        let now = self.clock.now();
        let app = App {
            tenant_id,
            client_id: ClientId::generate(&*self.random),
            name,
            secrets: vec![SecretEntry {
                digest: secret.digest(),
                created_at: now,
                expires_at: None,
            }],
            scopes: Vec::new(),
            roles: Vec::new(),
            token_ttl: None,
            created_at: now,
            version: 0,
        };
        self.store.insert_app(&app).await?;
        Ok((app, secret))
    }

    pub async fn app(&self, tenant: TenantId, client: ClientId) -> Result<App, ManagementError> {
        self.tenant(tenant).await?;
        self.store
            .app(&tenant, &client)
            .await?
            .ok_or(ManagementError::AppNotFound)
    }

    pub async fn apps(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<App>, ManagementError> {
        self.tenant(tenant).await?;
        Ok(self.store.apps(&tenant, page).await?)
    }

    pub async fn rename_app(
        &self,
        tenant: TenantId,
        client: ClientId,
        name: Name,
    ) -> Result<App, ManagementError> {
        self.update_app(tenant, client, |app| {
            app.name = name.clone();
            Ok(())
        })
        .await
    }

    pub async fn delete_app(
        &self,
        tenant: TenantId,
        client: ClientId,
    ) -> Result<(), ManagementError> {
        self.tenant(tenant).await?;
        self.store
            .delete_app(&tenant, &client)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ManagementError::AppNotFound,
                other => other.into(),
            })
    }

    /// Replaces the scopes the app defines as an API.
    pub async fn set_scopes(
        &self,
        tenant: TenantId,
        client: ClientId,
        scopes: Vec<Scope>,
    ) -> Result<App, ManagementError> {
        self.update_app(tenant, client, |app| {
            app.scopes = scopes.clone();
            Ok(())
        })
        .await
    }

    /// The roles assigned to the app that still exist.
    pub async fn app_roles(
        &self,
        tenant: TenantId,
        client: ClientId,
    ) -> Result<Vec<Role>, ManagementError> {
        let app = self.app(tenant, client).await?;
        let mut roles = Vec::with_capacity(app.roles.len());
        for id in &app.roles {
            if let Some(role) = self.store.role(&tenant, id).await? {
                roles.push(role);
            }
        }
        Ok(roles)
    }

    /// Replaces the roles assigned to the app; every one must exist.
    pub async fn assign_roles(
        &self,
        tenant: TenantId,
        client: ClientId,
        ids: Vec<RoleId>,
    ) -> Result<Vec<Role>, ManagementError> {
        self.tenant(tenant).await?;
        let mut roles = Vec::with_capacity(ids.len());
        for id in &ids {
            let role = self.store.role(&tenant, id).await?;
            roles.push(
                role.ok_or_else(|| ManagementError::InvalidRole(format!("no role has id {id}")))?,
            );
        }
        self.update_app(tenant, client, |app| {
            app.roles = ids.clone();
            Ok(())
        })
        .await?;
        Ok(roles)
    }

    /// Sets the lifetime of the app's tokens, or with `None` lets it follow its tenant's.
    pub async fn set_app_token_ttl(
        &self,
        tenant: TenantId,
        client: ClientId,
        ttl: Option<TokenTtl>,
    ) -> Result<App, ManagementError> {
        self.update_app(tenant, client, |app| {
            app.token_ttl = ttl;
            Ok(())
        })
        .await
    }

    /// Issues a new secret. The previous one keeps working for `grace_seconds` (0 revokes it
    /// now); one still in an earlier grace period is revoked, so at most two are ever live.
    pub async fn rotate_secret(
        &self,
        tenant: TenantId,
        client: ClientId,
        grace_seconds: u64,
    ) -> Result<(App, ClientSecret), ManagementError> {
        let secret = ClientSecret::generate(&*self.random);
        let digest = secret.digest();
        let app = self
            .update_app(tenant, client, |app| {
                let now = self.clock.now();
                let current = app.secrets.iter().find(|s| s.expires_at.is_none()).copied();
                app.secrets = vec![SecretEntry {
                    digest,
                    created_at: now,
                    expires_at: None,
                }];
                if let Some(previous) = current.filter(|_| grace_seconds > 0) {
                    let expires_at = Some(now + grace_seconds);
                    app.secrets.push(SecretEntry {
                        expires_at,
                        ..previous
                    });
                }
                Ok(())
            })
            .await?;
        Ok((app, secret))
    }

    // ---- roles

    pub async fn create_role(
        &self,
        tenant: TenantId,
        spec: RoleSpec,
    ) -> Result<Role, ManagementError> {
        self.check_access(tenant, &spec.access).await?;
        let role = Role {
            tenant_id: tenant,
            id: RoleId::generate(&*self.random),
            name: spec.name,
            description: spec.description,
            access: spec.access,
            created_at: self.clock.now(),
            version: 0,
        };
        self.store.insert_role(&role).await?;
        Ok(role)
    }

    pub async fn role(&self, tenant: TenantId, id: RoleId) -> Result<Role, ManagementError> {
        self.tenant(tenant).await?;
        self.store
            .role(&tenant, &id)
            .await?
            .ok_or(ManagementError::RoleNotFound)
    }

    pub async fn roles(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<Role>, ManagementError> {
        self.tenant(tenant).await?;
        Ok(self.store.roles(&tenant, page).await?)
    }

    pub async fn replace_role(
        &self,
        tenant: TenantId,
        id: RoleId,
        spec: RoleSpec,
    ) -> Result<Role, ManagementError> {
        self.check_access(tenant, &spec.access).await?;
        read_change_write(
            || self.role(tenant, id),
            |role| {
                role.name = spec.name.clone();
                role.description = spec.description.clone();
                role.access = spec.access.clone();
                Ok(())
            },
            &*self.store,
            |store, role| store.replace_role(role),
            || ManagementError::RoleNotFound,
        )
        .await
    }

    pub async fn delete_role(&self, tenant: TenantId, id: RoleId) -> Result<(), ManagementError> {
        self.tenant(tenant).await?;
        self.store
            .delete_role(&tenant, &id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ManagementError::RoleNotFound,
                other => other.into(),
            })
    }

    /// A role may only grant scopes that exist: each entry's app must be in the tenant and
    /// define every scope listed for it.
    async fn check_access(
        &self,
        tenant: TenantId,
        access: &[Access],
    ) -> Result<(), ManagementError> {
        self.tenant(tenant).await?;
        for entry in access {
            let app = self
                .store
                .app(&tenant, &entry.application_id)
                .await?
                .ok_or_else(|| {
                    ManagementError::InvalidRole(format!(
                        "no application has id {}",
                        entry.application_id
                    ))
                })?;
            if let Some(missing) = entry.scopes.iter().find(|s| !app.scopes.contains(s)) {
                return Err(ManagementError::InvalidRole(format!(
                    "application {} defines no scope {}",
                    entry.application_id,
                    missing.as_str()
                )));
            }
        }
        Ok(())
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        change: impl Fn(&mut Tenant),
    ) -> Result<Tenant, ManagementError> {
        read_change_write(
            || self.tenant(id),
            |tenant| {
                change(tenant);
                Ok(())
            },
            &*self.store,
            |store, tenant| store.replace_tenant(tenant),
            || ManagementError::TenantNotFound,
        )
        .await
    }

    async fn update_app(
        &self,
        tenant: TenantId,
        client: ClientId,
        change: impl Fn(&mut App) -> Result<(), ManagementError>,
    ) -> Result<App, ManagementError> {
        read_change_write(
            || self.app(tenant, client),
            change,
            &*self.store,
            |store, app| store.replace_app(app),
            || ManagementError::AppNotFound,
        )
        .await
    }
}

/// A store write in flight, as the [`Store`] port's methods return it.
type StoreWrite<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// A stored record that carries the version its replacement is checked against.
trait Versioned {
    /// The record as it stands after a successful replacement.
    fn written(self) -> Self;
}

macro_rules! versioned {
    ($($record:ty),*) => {
        $(impl Versioned for $record {
            fn written(self) -> Self {
                Self { version: self.version + 1, ..self }
            }
        })*
    };
}

versioned!(Tenant, App, Role);

/// Reads a record, applies `change` and writes it back over the version read, retrying when
/// another write came first. A deleted record stays deleted: the write fails (`gone`), it does
/// not resurrect it.
async fn read_change_write<T: Versioned, R: Future<Output = Result<T, ManagementError>>>(
    read: impl Fn() -> R,
    change: impl Fn(&mut T) -> Result<(), ManagementError>,
    store: &dyn Store,
    write: for<'a> fn(&'a dyn Store, &'a T) -> StoreWrite<'a>,
    gone: fn() -> ManagementError,
) -> Result<T, ManagementError> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut record = read().await?;
        change(&mut record)?;
        match write(store, &record).await {
            Ok(()) => return Ok(record.written()),
            Err(StoreError::VersionConflict) => continue,
            Err(StoreError::NotFound) => return Err(gone()),
            Err(other) => return Err(other.into()),
        }
    }
    Err(ManagementError::Conflict)
}

/// Authenticates apps by their client credentials and issues their access tokens.
pub struct TokenIssuer {
    store: Arc<dyn Store>,
    keys: Keyring,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    /// Compared against when the client is unknown, so that an unknown client id costs the same
    /// digest and comparison as a wrong secret.
    decoy: App,
}

/// What a token request asks for beyond the grant itself.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The app acting as the API (App ID's `audience`, RFC 8707's `resource`); the caller
    /// itself when absent.
    pub audience: Option<ClientId>,
    /// The scopes asked for (RFC 6749 §3.3); every scope the caller may get when absent.
    pub scope: Option<Vec<Scope>>,
}

/// Why a token request failed, before the HTTP mapping turns it into RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Unknown client or wrong secret; deliberately one variant so the two cannot be told apart.
    #[error("client authentication failed")]
    InvalidClient,
    /// A requested scope the caller's roles do not grant for the audience.
    #[error("scope {0} is not granted to this client for this audience")]
    InvalidScope(String),
    /// The audience names no app of the tenant (RFC 8707 §2).
    #[error("the audience is not an application of this tenant")]
    InvalidTarget,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Why a revocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// The token was issued to another app (RFC 7009 §2.1).
    #[error("the token was issued to another client")]
    NotYours,
    #[error(transparent)]
    Store(StoreError),
}

/// A freshly minted access token. Its `Debug` shows the `jti`, never the token.
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u32,
    pub jti: uuid::Uuid,
    /// The granted scopes, space-delimited; `None` when none were granted.
    pub scope: Option<String>,
    /// Whether the granted scopes differ from those requested, so the response must name them
    /// (RFC 6749 §5.1).
    pub scope_differs: bool,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("jti", &self.jti)
            .finish()
    }
}

impl TokenIssuer {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        let decoy_secret = |_| SecretEntry {
            digest: ClientSecret::generate(&*random).digest(),
            created_at: 0,
            expires_at: None,
        };
        let decoy = App {
            tenant_id: TenantId::generate(&*random),
            client_id: ClientId::generate(&*random),
            name: Name::parse("decoy").expect("a valid constant name"),
            secrets: (0..2).map(decoy_secret).collect(),
            scopes: Vec::new(),
            roles: Vec::new(),
            token_ttl: None,
            created_at: 0,
            version: 0,
        };
        Self {
            store,
            keys: Keyring::new(vault),
            clock,
            random,
            decoy,
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4): one store read, a second one only when the
    /// caller has roles or names another app as audience, and one signature by the tenant's
    /// current key.
    pub async fn issue(
        &self,
        tenant_id: TenantId,
        client_id: ClientId,
        secret: &PresentedSecret,
        request: &TokenRequest,
        base: &BaseUrl,
    ) -> Result<IssuedToken, TokenError> {
        let (tenant, caller) = self.authenticate(tenant_id, client_id, secret).await?;
        let now = self.clock.now();
        let audience = request.audience.unwrap_or(client_id);
        let granted = self.granted_scopes(&caller, audience).await?;
        let scope = match &request.scope {
            None => granted,
            Some(asked) => match asked.iter().find(|s| !granted.contains(s)) {
                Some(refused) => return Err(TokenError::InvalidScope(refused.as_str().to_owned())),
                None => asked.clone(),
            },
        };
        let scope_differs = request.scope.as_ref() != Some(&scope);
        let scope = (!scope.is_empty()).then(|| {
            scope
                .iter()
                .map(Scope::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        });

        let iss = base.oauth_server_url(&tenant_id);
        let jti = self.random.uuid();
        let ttl = caller.token_ttl.unwrap_or(tenant.token_ttl).seconds();
        let claims = Claims {
            iss: &iss,
            sub: client_id,
            aud: [audience],
            iat: now,
            exp: now + u64::from(ttl),
            jti,
            client_id,
            tenant: tenant_id,
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
            scope: scope.as_deref(),
        };
        let signer = self.keys.signer(&tenant_id, tenant.keys.current()).await?;
        let access_token = signer.sign(&claims).await?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            jti,
            scope,
            scope_differs,
        })
    }

    /// The client whose credentials these are, with its tenant: one store read. An unknown
    /// client costs the same digest comparison as a wrong secret, and fails the same way.
    pub async fn authenticate(
        &self,
        tenant_id: TenantId,
        client_id: ClientId,
        secret: &PresentedSecret,
    ) -> Result<(Tenant, App), TokenError> {
        let found = self.store.client(&tenant_id, &client_id).await?;
        let presented: SecretDigest = secret.digest();
        let now = self.clock.now();
        let accepted = found
            .as_ref()
            .map_or(&self.decoy, |(_, app)| app)
            .accepts(&presented, now);
        match (found, accepted) {
            (Some(client), true) => Ok(client),
            _ => Err(TokenError::InvalidClient),
        }
    }

    /// The claims of `token` if it is active (RFC 7662 §2.2): signed by our key for this
    /// tenant's issuer, unexpired, not revoked, and issued to an app that still exists.
    pub async fn introspect(
        &self,
        tenant_id: TenantId,
        token: &str,
        base: &BaseUrl,
    ) -> Result<Option<VerifiedClaims>, StoreError> {
        let Some(claims) = self.own_token(tenant_id, token, base).await? else {
            return Ok(None);
        };
        let state = self
            .store
            .token_state(&tenant_id, &claims.client_id, &claims.jti)
            .await?;
        Ok((state.client_exists && !state.revoked).then_some(claims))
    }

    /// Revokes `token` (RFC 7009) if `caller` is the app it was issued to. A token that is not
    /// one of this tenant's, or already expired, needs no revocation.
    pub async fn revoke(
        &self,
        tenant_id: TenantId,
        caller: ClientId,
        token: &str,
        base: &BaseUrl,
    ) -> Result<(), RevokeError> {
        let Some(claims) = self
            .own_token(tenant_id, token, base)
            .await
            .map_err(RevokeError::Store)?
        else {
            return Ok(());
        };
        if claims.client_id != caller {
            return Err(RevokeError::NotYours);
        }
        self.store
            .revoke(&tenant_id, &claims.jti, claims.exp)
            .await
            .map_err(RevokeError::Store)
    }

    /// The claims of an unexpired token one of the tenant's published keys signed for its
    /// issuer.
    async fn own_token(
        &self,
        tenant_id: TenantId,
        token: &str,
        base: &BaseUrl,
    ) -> Result<Option<VerifiedClaims>, StoreError> {
        let Some(keys) = self.published_keys(tenant_id).await? else {
            return Ok(None);
        };
        let Some(claims) = keys.verifier.verify(token) else {
            return Ok(None);
        };
        let ours = claims.tenant == tenant_id && claims.iss == base.oauth_server_url(&tenant_id);
        Ok((ours && claims.exp > self.clock.now()).then_some(claims))
    }

    /// The tenant's published keys (served as its JWK set, RFC 7517 §5), from this process's
    /// cache while it is fresh; `None` for an unknown tenant.
    pub async fn published_keys(
        &self,
        tenant_id: TenantId,
    ) -> Result<Option<Arc<PublishedKeys>>, StoreError> {
        let now = self.clock.now();
        if let Some(keys) = self.keys.cached_key_set(&tenant_id, now) {
            return Ok(Some(keys));
        }
        match self.store.tenant(&tenant_id).await? {
            Some(tenant) => Ok(Some(self.keys.key_set(&tenant, now))),
            None => {
                self.keys.forget(&tenant_id);
                Ok(None)
            }
        }
    }

    /// The scopes `caller` may get for `audience`: those its roles grant for that app which the
    /// app still defines, in the app's order. An audience that is no app is `InvalidTarget`.
    async fn granted_scopes(
        &self,
        caller: &App,
        audience: ClientId,
    ) -> Result<Vec<Scope>, TokenError> {
        let is_self = audience == caller.client_id;
        if caller.roles.is_empty() && is_self {
            return Ok(Vec::new());
        }
        let other = (!is_self).then_some(&audience);
        let (roles, api) = self
            .store
            .grants(&caller.tenant_id, &caller.roles, other)
            .await?;
        let api = if is_self {
            caller
        } else {
            api.as_ref().ok_or(TokenError::InvalidTarget)?
        };
        let allowed: Vec<&Scope> = roles
            .iter()
            .flat_map(|role| &role.access)
            .filter(|access| access.application_id == audience)
            .flat_map(|access| &access.scopes)
            .collect();
        Ok(api
            .scopes
            .iter()
            .filter(|s| allowed.contains(s))
            .cloned()
            .collect())
    }

    /// Whether the tenant exists, for endpoints that describe it.
    pub async fn knows_tenant(&self, tenant_id: TenantId) -> Result<bool, StoreError> {
        Ok(self.published_keys(tenant_id).await?.is_some())
    }
}
