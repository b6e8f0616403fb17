use super::{ClientId, KeySet, Name, RoleId, Scope, SecretDigest, TenantId, TokenTtl};

/// Every stored record carries a version, incremented by each replacement; a replacement states
/// the version it read and fails if another write came first.
pub type Version = u64;

/// A tenant as stored, with its token settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: Name,
    /// The lifetime of access tokens issued in this tenant (`/config/tokens`).
    pub token_ttl: TokenTtl,
    /// The keys that sign the tenant's tokens and those verifiers should hold.
    pub keys: KeySet,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub version: Version,
}

/// One of an app's secrets, kept as a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretEntry {
    pub digest: SecretDigest,
    pub created_at: u64,
    /// Set on a previous secret in its grace period after a rotation.
    pub expires_at: Option<u64>,
}

impl SecretEntry {
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// A registered application as stored: its identity, the digests of its secrets (the current
/// one first, then at most one previous secret in its grace period), the scopes it defines as
/// an API and the roles assigned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub name: Name,
    pub secrets: Vec<SecretEntry>,
    pub scopes: Vec<Scope>,
    pub roles: Vec<RoleId>,
    /// The lifetime of this app's tokens, when it overrides its tenant's.
    pub token_ttl: Option<TokenTtl>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub version: Version,
}

impl App {
    /// Whether `presented` is the digest of one of the app's live secrets. Every stored digest
    /// is compared, each in constant time, whatever the outcome of the others.
    pub fn accepts(&self, presented: &SecretDigest, now: u64) -> bool {
        self.secrets.iter().fold(false, |accepted, entry| {
            accepted | (entry.digest.constant_time_eq(presented) & entry.is_live(now))
        })
    }
}

/// What a role grants: these scopes of this app (the app acting as the API, the audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub application_id: ClientId,
    pub scopes: Vec<Scope>,
}

/// A role: a named set of grants that apps are assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub tenant_id: TenantId,
    pub id: RoleId,
    pub name: Name,
    pub description: Description,
    pub access: Vec<Access>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub version: Version,
}

/// A role's free-text description: at most 250 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("description must be at most {max} characters without control characters", max = Description::MAX_CHARS)]
pub struct InvalidDescription;

impl Description {
    pub const MAX_CHARS: usize = 250;

    pub fn parse(raw: &str) -> Result<Self, InvalidDescription> {
        if raw.chars().count() > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(InvalidDescription);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
