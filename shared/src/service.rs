//! The operations of the authorization server, free of HTTP and of any particular store or key.
//!
//! [`Management`] administers tenants, apps and roles; [`TokenIssuer`] authenticates apps and
//! mints their access tokens. They are separate so that each Lambda function holds only the
//! ports (and so the IAM permissions) its operations use.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::domain::{
    Access, App, BaseUrl, ClientId, ClientSecret, Description, Name, PresentedSecret, Role, RoleId,
    Scope, SecretDigest, SecretEntry, Tenant, TenantId, TokenTtl,
};
use crate::jwk::{Jwk, JwkSet};
use crate::jwt::{AMR_CLIENT_CREDENTIALS, Claims, JwtSigner, TOKEN_VERSION, VerifiedClaims};
use crate::ports::{Clock, Page, PageRequest, Random, SignError, Store, StoreError, TokenSigner};

/// How long a replaced secret keeps working by default: long enough for a fleet to roll.
pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;
/// The longest grace period a rotation may ask for: one week.
pub const MAX_GRACE_SECONDS: u64 = 7 * 86_400;
/// Versioned writes that lost a race are retried this many times before `Conflict`.
const WRITE_ATTEMPTS: usize = 3;

/// Administration of tenants, apps and roles.
pub struct Management {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    default_ttl: TokenTtl,
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
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        default_ttl: TokenTtl,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            default_ttl,
        }
    }

    // ---- tenants

    pub async fn create_tenant(&self, name: Name) -> Result<Tenant, ManagementError> {
        let tenant = Tenant {
            id: TenantId::generate(&*self.random),
            name,
            token_ttl: self.default_ttl,
            created_at: self.clock.now(),
            version: 0,
        };
        self.store.insert_tenant(&tenant).await?;
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

    /// Removes the tenant with its apps and roles; their credentials stop working at once.
    pub async fn delete_tenant(&self, id: TenantId) -> Result<(), ManagementError> {
        self.store.delete_tenant(&id).await.map_err(|e| match e {
            StoreError::NotFound => ManagementError::TenantNotFound,
            other => other.into(),
        })
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
    jwt: JwtSigner,
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
        signer: Arc<dyn TokenSigner>,
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
            jwt: JwtSigner::new(signer),
            clock,
            random,
            decoy,
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4): one store read, a second one only when the
    /// caller has roles or names another app as audience, and one signature.
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
        let access_token = self.jwt.sign(&claims).await?;
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
        let Some(claims) = self.own_token(tenant_id, token, base) else {
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
        let Some(claims) = self.own_token(tenant_id, token, base) else {
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

    /// The claims of an unexpired token our key signed for this tenant's issuer.
    fn own_token(
        &self,
        tenant_id: TenantId,
        token: &str,
        base: &BaseUrl,
    ) -> Option<VerifiedClaims> {
        let claims = self.jwt.verify(token)?;
        let ours = claims.tenant == tenant_id && claims.iss == base.oauth_server_url(&tenant_id);
        (ours && claims.exp > self.clock.now()).then_some(claims)
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

    /// The keys that verify this tenant's tokens; `None` for an unknown tenant.
    pub async fn public_keys(&self, tenant_id: TenantId) -> Result<Option<JwkSet<'_>>, StoreError> {
        let tenant = self.store.tenant(&tenant_id).await?;
        Ok(tenant.map(|_| JwkSet {
            keys: vec![self.signing_key()],
        }))
    }

    /// Whether the tenant exists, for endpoints that describe it.
    pub async fn knows_tenant(&self, tenant_id: TenantId) -> Result<bool, StoreError> {
        Ok(self.store.tenant(&tenant_id).await?.is_some())
    }

    pub fn signing_key(&self) -> &Jwk {
        self.jwt.key()
    }
}
