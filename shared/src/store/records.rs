//! The stored form of tenants, apps and roles, shared by both adapters: DynamoDB keeps each
//! field as a native attribute (through `serde_dynamo`), the embedded store as JSON. Reading
//! parses every field back into its domain type, so a damaged item is reported, never used.
//! Records have no `Debug`: they hold secret digests and wrapped private keys, which the domain
//! types print redacted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Access, App, ClientId, Custody, Description, KeySet, KeyState, Name, Role, RoleId, Scope,
    SecretDigest, SecretEntry, SigningKey, Tenant, TenantId, TokenTtl, Version,
};
use crate::ports::{Page, StoreError};

#[derive(Serialize, Deserialize)]
pub(crate) struct TenantRecord {
    name: String,
    token_ttl: u32,
    keys: Vec<KeyRecord>,
    created_at: u64,
    version: Version,
}

/// A signing key: its public half, and its private half as a KMS key or encrypted.
#[derive(Serialize, Deserialize)]
struct KeyRecord {
    kid: String,
    alg: String,
    /// Base64 of the DER SubjectPublicKeyInfo.
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_arn: Option<String>,
    /// Base64 of the encrypted PKCS#8 private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped_private_key: Option<String>,
    created_at: u64,
    /// `next`, `current` or `retiring`.
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retiring_until: Option<u64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AppRecord {
    name: String,
    secrets: Vec<SecretRecord>,
    scopes: Vec<String>,
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_ttl: Option<u32>,
    created_at: u64,
    version: Version,
}

#[derive(Serialize, Deserialize)]
struct SecretRecord {
    /// Base64 of the SHA-256 digest of the secret.
    sha256: String,
    created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    name: String,
    description: String,
    access: Vec<AccessRecord>,
    created_at: u64,
    version: Version,
}

#[derive(Serialize, Deserialize)]
struct AccessRecord {
    application_id: String,
    scopes: Vec<String>,
}

impl TenantRecord {
    /// The record to store for `tenant` at `version`.
    pub(crate) fn new(tenant: &Tenant, version: Version) -> Self {
        Self {
            name: tenant.name.as_str().to_owned(),
            token_ttl: tenant.token_ttl.seconds(),
            keys: tenant.keys.keys().iter().map(KeyRecord::new).collect(),
            created_at: tenant.created_at,
            version,
        }
    }

    #[cfg(feature = "embedded")]
    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn into_tenant(self, id: TenantId) -> Result<Tenant, StoreError> {
        Ok(Tenant {
            id,
            name: name(&self.name)?,
            token_ttl: TokenTtl::new(self.token_ttl)
                .ok_or_else(|| corrupt("token_ttl out of range"))?,
            keys: KeySet::from_keys(
                self.keys
                    .into_iter()
                    .map(KeyRecord::into_key)
                    .collect::<Result<_, _>>()?,
            )
            .map_err(|e| corrupt(&e.to_string()))?,
            created_at: self.created_at,
            version: self.version,
        })
    }
}

impl KeyRecord {
    fn new(key: &SigningKey) -> Self {
        let (kms_key_arn, wrapped_private_key) = match &key.custody {
            Custody::Kms { key_arn } => (Some(key_arn.clone()), None),
            Custody::Wrapped { ciphertext } => (None, Some(STANDARD.encode(ciphertext))),
        };
        let (state, retiring_until) = match key.state {
            KeyState::Next => ("next", None),
            KeyState::Current => ("current", None),
            KeyState::Retiring { until } => ("retiring", Some(until)),
        };
        Self {
            kid: key.kid.clone(),
            alg: key.algorithm.as_str().to_owned(),
            public_key: STANDARD.encode(&key.public_der),
            kms_key_arn,
            wrapped_private_key,
            created_at: key.created_at,
            state: state.to_owned(),
            retiring_until,
        }
    }

    fn into_key(self) -> Result<SigningKey, StoreError> {
        let bytes = |raw: &str| {
            STANDARD
                .decode(raw)
                .map_err(|_| corrupt("key material is not base64"))
        };
        let custody = match (self.kms_key_arn, self.wrapped_private_key) {
            (Some(key_arn), None) => Custody::Kms { key_arn },
            (None, Some(wrapped)) => Custody::Wrapped {
                ciphertext: bytes(&wrapped)?,
            },
            _ => {
                return Err(corrupt(
                    "a key needs either a KMS key or a wrapped private key",
                ));
            }
        };
        let state = match (self.state.as_str(), self.retiring_until) {
            ("next", None) => KeyState::Next,
            ("current", None) => KeyState::Current,
            ("retiring", Some(until)) => KeyState::Retiring { until },
            _ => return Err(corrupt("unknown key state")),
        };
        Ok(SigningKey {
            algorithm: self
                .alg
                .parse()
                .map_err(|e: crate::domain::UnsupportedAlgorithm| corrupt(&e.to_string()))?,
            public_der: bytes(&self.public_key)?,
            kid: self.kid,
            custody,
            created_at: self.created_at,
            state,
        })
    }
}

impl AppRecord {
    pub(crate) fn new(app: &App, version: Version) -> Self {
        Self {
            name: app.name.as_str().to_owned(),
            secrets: app
                .secrets
                .iter()
                .map(|s| SecretRecord {
                    sha256: STANDARD.encode(s.digest.as_bytes()),
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                })
                .collect(),
            scopes: app.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            roles: app.roles.iter().map(ToString::to_string).collect(),
            token_ttl: app.token_ttl.map(TokenTtl::seconds),
            created_at: app.created_at,
            version,
        }
    }

    #[cfg(feature = "embedded")]
    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn into_app(
        self,
        tenant_id: TenantId,
        client_id: ClientId,
    ) -> Result<App, StoreError> {
        let secrets = self
            .secrets
            .into_iter()
            .map(|s| {
                let digest = STANDARD
                    .decode(&s.sha256)
                    .ok()
                    .and_then(|bytes| SecretDigest::from_bytes(&bytes))
                    .ok_or_else(|| corrupt("secret digest is not 32 bytes of base64"))?;
                Ok(SecretEntry {
                    digest,
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if secrets.is_empty() {
            return Err(corrupt("app without a secret"));
        }
        Ok(App {
            tenant_id,
            client_id,
            name: name(&self.name)?,
            secrets,
            scopes: scopes(&self.scopes)?,
            roles: self.roles.iter().map(|r| id(r)).collect::<Result<_, _>>()?,
            token_ttl: self
                .token_ttl
                .map(|s| TokenTtl::new(s).ok_or_else(|| corrupt("app token_ttl out of range")))
                .transpose()?,
            created_at: self.created_at,
            version: self.version,
        })
    }
}

impl RoleRecord {
    pub(crate) fn new(role: &Role, version: Version) -> Self {
        Self {
            name: role.name.as_str().to_owned(),
            description: role.description.as_str().to_owned(),
            access: role
                .access
                .iter()
                .map(|a| AccessRecord {
                    application_id: a.application_id.to_string(),
                    scopes: a.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                })
                .collect(),
            created_at: role.created_at,
            version,
        }
    }

    #[cfg(feature = "embedded")]
    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn into_role(self, tenant_id: TenantId, id_: RoleId) -> Result<Role, StoreError> {
        let access = self
            .access
            .into_iter()
            .map(|a| {
                Ok(Access {
                    application_id: id(&a.application_id)?,
                    scopes: scopes(&a.scopes)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Role {
            tenant_id,
            id: id_,
            name: name(&self.name)?,
            description: Description::parse(&self.description)
                .map_err(|e| corrupt(&e.to_string()))?,
            access,
            created_at: self.created_at,
            version: self.version,
        })
    }
}

fn name(raw: &str) -> Result<Name, StoreError> {
    Name::parse(raw).map_err(|e| corrupt(&format!("stored name: {e}")))
}

fn scopes(raw: &[String]) -> Result<Vec<Scope>, StoreError> {
    Scope::parse_list(raw.iter().map(String::as_str)).map_err(|e| corrupt(&e.to_string()))
}

pub(crate) fn id<T: std::str::FromStr>(raw: &str) -> Result<T, StoreError> {
    raw.parse().map_err(|_| corrupt("stored id is not a UUID"))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

/// Turns a page of stored records, keyed by the id part of their keys, into domain values.
pub(crate) fn map_page<R, T>(
    page: Page<(String, R)>,
    convert: impl Fn(String, R) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let items = page
        .items
        .into_iter()
        .map(|(key, record)| convert(key, record))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        next: page.next,
    })
}
