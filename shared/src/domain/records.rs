use super::{ClientId, Name, SecretDigest, TenantId};

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: Name,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// A registered application as stored: its identity and the digest of its secret, never the
/// secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub name: Name,
    pub secret_digest: SecretDigest,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}
