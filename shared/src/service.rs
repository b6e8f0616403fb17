//! The operations of the authorization server, free of HTTP and of any particular store or key.
//!
//! [`Management`] registers tenants and apps; [`TokenIssuer`] authenticates apps and mints their
//! access tokens. They are separate so that each Lambda function holds only the ports (and so
//! the IAM permissions) its operations use.

use std::fmt;
use std::sync::Arc;

use crate::domain::{
    App, BaseUrl, ClientId, ClientSecret, Name, PresentedSecret, SecretDigest, Tenant, TenantId,
    TokenTtl,
};
use crate::jwk::{Jwk, JwkSet};
use crate::jwt::{AMR_CLIENT_CREDENTIALS, Claims, JwtSigner, TOKEN_VERSION};
use crate::ports::{Clock, Random, SignError, Store, StoreError, TokenSigner};

/// Registration of tenants and apps.
pub struct Management {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("the tenant does not exist")]
    TenantNotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManagementError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TenantNotFound => Self::TenantNotFound,
            other => Self::Store(other),
        }
    }
}

impl Management {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            clock,
            random,
        }
    }

    pub async fn create_tenant(&self, name: Name) -> Result<Tenant, ManagementError> {
        let tenant = Tenant {
            id: TenantId::generate(&*self.random),
            name,
            created_at: self.clock.now(),
        };
        self.store.insert_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// Registers an app and returns it with its secret, which exists nowhere else from then on:
    /// the store keeps only its digest.
    pub async fn register_app(
        &self,
        tenant_id: TenantId,
        name: Name,
    ) -> Result<(App, ClientSecret), ManagementError> {
        let secret = ClientSecret::generate(&*self.random);
        let app = App {
            tenant_id,
            client_id: ClientId::generate(&*self.random),
            name,
            secret_digest: secret.digest(),
            created_at: self.clock.now(),
        };
        self.store.insert_app(&app).await?;
        Ok((app, secret))
    }
}

/// Authenticates apps by their client credentials and issues their access tokens.
pub struct TokenIssuer {
    store: Arc<dyn Store>,
    jwt: JwtSigner,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    ttl: TokenTtl,
    /// Compared against when the client is unknown, so that an unknown client id costs the same
    /// digest and comparison as a wrong secret.
    decoy: SecretDigest,
}

/// Why a token request failed, before the HTTP mapping turns it into RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Unknown client or wrong secret; deliberately one variant so the two cannot be told apart.
    #[error("client authentication failed")]
    InvalidClient,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A freshly minted access token. Its `Debug` shows the `jti`, never the token.
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u32,
    pub jti: uuid::Uuid,
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
        ttl: TokenTtl,
    ) -> Self {
        let decoy = ClientSecret::generate(&*random).digest();
        Self {
            store,
            jwt: JwtSigner::new(signer),
            clock,
            random,
            ttl,
            decoy,
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4): one store read, one signature.
    pub async fn issue(
        &self,
        tenant_id: TenantId,
        client_id: ClientId,
        secret: &PresentedSecret,
        base: &BaseUrl,
    ) -> Result<IssuedToken, TokenError> {
        let app = self.store.app(&tenant_id, &client_id).await?;
        let expected = app.as_ref().map_or(&self.decoy, |app| &app.secret_digest);
        if !secret.matches(expected) || app.is_none() {
            return Err(TokenError::InvalidClient);
        }
        let iss = base.oauth_server_url(&tenant_id);
        let iat = self.clock.now();
        let jti = self.random.uuid();
        let claims = Claims {
            iss: &iss,
            sub: client_id,
            aud: [client_id],
            iat,
            exp: iat + u64::from(self.ttl.seconds()),
            jti,
            client_id,
            tenant: tenant_id,
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
        };
        let access_token = self.jwt.sign(&claims).await?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl.seconds(),
            jti,
        })
    }

    /// The keys that verify this tenant's tokens; `None` for an unknown tenant.
    pub async fn public_keys(&self, tenant_id: TenantId) -> Result<Option<JwkSet<'_>>, StoreError> {
        let tenant = self.store.tenant(&tenant_id).await?;
        Ok(tenant.map(|_| JwkSet {
            keys: vec![self.signing_key()],
        }))
    }

    pub fn signing_key(&self) -> &Jwk {
        self.jwt.key()
    }
}
