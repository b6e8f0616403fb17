//! The embedded store: a single redb file in the data directory.
//!
//! redb gives ACID transactions with copy-on-write pages and a checksummed commit, so a crash
//! at any point leaves the last committed state; every commit here is durable (fsync) before the
//! call returns. Values are small JSON documents so that the file stays inspectable and can
//! gain fields without a migration.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::domain::{App, ClientId, Name, SecretDigest, Tenant, TenantId};
use crate::ports::{Store, StoreError};

/// Tenants by tenant id.
const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
/// Apps by `<tenant id>/<client id>`, so that a tenant's apps are one key range.
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens the store at `path`, creating the file and its tables on first use.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(TENANTS).map_err(unavailable)?;
        txn.open_table(APPS).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs blocking database work off the async runtime's threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Unavailable(e.into()))?
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let key = tenant.id.to_string();
        let value = encode(&StoredTenant {
            name: tenant.name.as_str().to_owned(),
            created_at: tenant.created_at,
        });
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut tenants = txn.open_table(TENANTS).map_err(unavailable)?;
                if tenants.get(key.as_str()).map_err(unavailable)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                tenants
                    .insert(key.as_str(), value.as_slice())
                    .map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let id = *id;
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let tenants = txn.open_table(TENANTS).map_err(unavailable)?;
            let Some(bytes) = tenants.get(id.to_string().as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            let stored: StoredTenant = decode(bytes.value())?;
            Ok(Some(Tenant {
                id,
                name: parse_name(&stored.name)?,
                created_at: stored.created_at,
            }))
        })
        .await
    }

    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let tenant_key = app.tenant_id.to_string();
        let app_key = app_key(&app.tenant_id, &app.client_id);
        let value = encode(&StoredApp {
            name: app.name.as_str().to_owned(),
            secret_sha256: STANDARD.encode(app.secret_digest.as_bytes()),
            created_at: app.created_at,
        });
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let tenants = txn.open_table(TENANTS).map_err(unavailable)?;
                if tenants
                    .get(tenant_key.as_str())
                    .map_err(unavailable)?
                    .is_none()
                {
                    return Err(StoreError::TenantNotFound);
                }
                let mut apps = txn.open_table(APPS).map_err(unavailable)?;
                if apps.get(app_key.as_str()).map_err(unavailable)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                apps.insert(app_key.as_str(), value.as_slice())
                    .map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError> {
        let (tenant_id, client_id) = (*tenant, *client);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let apps = txn.open_table(APPS).map_err(unavailable)?;
            let key = app_key(&tenant_id, &client_id);
            let Some(bytes) = apps.get(key.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            let stored: StoredApp = decode(bytes.value())?;
            let secret_digest = STANDARD
                .decode(&stored.secret_sha256)
                .ok()
                .and_then(|b| SecretDigest::from_bytes(&b))
                .ok_or_else(|| StoreError::Corrupt("app without a 32-byte secret digest".into()))?;
            Ok(Some(App {
                tenant_id,
                client_id,
                name: parse_name(&stored.name)?,
                secret_digest,
                created_at: stored.created_at,
            }))
        })
        .await
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTenant {
    name: String,
    created_at: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredApp {
    name: String,
    /// Base64 of the SHA-256 digest of the app's secret.
    secret_sha256: String,
    created_at: u64,
}

fn app_key(tenant: &TenantId, client: &ClientId) -> String {
    format!("{tenant}/{client}")
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Structs of strings and integers always serialize.
    serde_json::to_vec(value).expect("stored records serialize to JSON")
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_name(raw: &str) -> Result<Name, StoreError> {
    Name::parse(raw).map_err(|e| StoreError::Corrupt(format!("stored name: {e}")))
}

fn unavailable(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(Box::new(error.into()))
}
