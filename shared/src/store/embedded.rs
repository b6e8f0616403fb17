//! The embedded store: a single redb file in the data directory.
//!
//! redb gives ACID transactions with copy-on-write pages and a checksummed commit, so a crash
//! at any point leaves the last committed state; every commit here is durable (fsync) before the
//! call returns. Each operation is one transaction, so its checks and writes apply together.
//! Values are the JSON of [`records`](super::records), so the file stays inspectable and can gain
//! fields without a migration. The token path's read, an app with its tenant, is served from
//! decoded copies ([`decoded`](super::decoded)) that every commit empties.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::decoded::Decoded;
use super::records::{AppRecord, RoleRecord, TenantRecord, id, map_page};
use crate::domain::{App, ClientId, Role, RoleId, Tenant, TenantId, Version};
use crate::ports::{Page, PageRequest, Store, StoreError, TokenState};
use uuid::Uuid;

/// Tenants by tenant id.
const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
/// Apps by `<tenant id>/<client id>`, so that a tenant's apps are one key range.
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
/// Roles by `<tenant id>/<role id>`.
const ROLES: TableDefinition<&str, &[u8]> = TableDefinition::new("roles");
/// Revoked tokens by `<tenant id>/<jti>`, holding the token's expiry.
const REVOKED: TableDefinition<&str, &[u8]> = TableDefinition::new("revoked");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    decoded: Arc<Decoded>,
}

impl EmbeddedStore {
    /// Opens the store at `path`, creating the file and its tables on first use.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        for table in [TENANTS, APPS, ROLES, REVOKED] {
            txn.open_table(table).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;
        Ok(Self {
            db: Arc::new(db),
            decoded: Arc::default(),
        })
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

    /// Runs a read of a few keys on the calling thread: redb serves it from its page cache in
    /// microseconds, less than handing it to a blocking thread would cost, and the token path
    /// makes one per request. Scans and writes (which wait for the disk) go through
    /// [`Self::blocking`].
    async fn lookup<T>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        work(&self.db)
    }

    /// Runs `work` in one write transaction, committed only if it succeeds.
    async fn write(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let decoded = Arc::clone(&self.decoded);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            work(&txn)?;
            let committed = txn.commit().map_err(unavailable);
            // Also after a failed commit: whether it reached the disk is unknown.
            decoded.committed();
            committed
        })
        .await
    }

    async fn get<R: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: String,
    ) -> Result<Option<R>, StoreError> {
        self.lookup(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(table).map_err(unavailable)?;
            let value = table.get(key.as_str()).map_err(unavailable)?;
            value.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    /// Up to `page.limit` records whose keys start with `prefix`, after `prefix + page.after`;
    /// returned with the key suffix after the prefix.
    async fn list<R: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        prefix: String,
        page: &PageRequest,
    ) -> Result<Page<(String, R)>, StoreError> {
        let (limit, after) = (page.limit, page.after.clone());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(table).map_err(unavailable)?;
            let start = format!("{prefix}{}", after.as_deref().unwrap_or(""));
            let mut items = Vec::new();
            let mut next = None;
            for entry in table.range(start.as_str()..).map_err(unavailable)? {
                let (key, value) = entry.map_err(unavailable)?;
                let Some(suffix) = key.value().strip_prefix(prefix.as_str()) else {
                    break;
                };
                if after.as_deref() == Some(suffix) {
                    continue;
                }
                if items.len() == limit {
                    next = items.last().map(|(k, _): &(String, R)| k.clone());
                    break;
                }
                items.push((suffix.to_owned(), decode(value.value())?));
            }
            Ok(Page { items, next })
        })
        .await
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let (key, value) = (tenant.id.to_string(), encode(&TenantRecord::new(tenant, 0)));
        self.write(move |txn| insert_new(&mut open(txn, TENANTS)?, &key, &value))
            .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let record: Option<TenantRecord> = self.get(TENANTS, id.to_string()).await?;
        record.map(|r| r.into_tenant(*id)).transpose()
    }

    async fn tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError> {
        let page = self
            .list::<TenantRecord>(TENANTS, String::new(), page)
            .await?;
        map_page(page, |key, r| r.into_tenant(id(&key)?))
    }

    async fn replace_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let key = tenant.id.to_string();
        let (expected, value) = (
            tenant.version,
            encode(&TenantRecord::new(tenant, tenant.version + 1)),
        );
        self.write(move |txn| {
            replace::<TenantRecord>(
                &mut open(txn, TENANTS)?,
                &key,
                expected,
                &value,
                TenantRecord::version,
            )
        })
        .await
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        let (key, prefix) = (id.to_string(), format!("{id}/"));
        self.write(move |txn| {
            if open(txn, TENANTS)?
                .remove(key.as_str())
                .map_err(unavailable)?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
            for table in [APPS, ROLES, REVOKED] {
                let mut table = open(txn, table)?;
                let end = format!("{}0", &prefix[..prefix.len() - 1]);
                table
                    .retain_in(prefix.as_str()..end.as_str(), |_, _| false)
                    .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let tenant = app.tenant_id.to_string();
        let (key, value) = (
            child_key(&app.tenant_id, &app.client_id),
            encode(&AppRecord::new(app, 0)),
        );
        self.write(move |txn| {
            require_tenant(txn, &tenant)?;
            insert_new(&mut open(txn, APPS)?, &key, &value)
        })
        .await
    }

    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError> {
        let record: Option<AppRecord> = self.get(APPS, child_key(tenant, client)).await?;
        record.map(|r| r.into_app(*tenant, *client)).transpose()
    }

    async fn apps(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<App>, StoreError> {
        let page = self
            .list::<AppRecord>(APPS, format!("{tenant}/"), page)
            .await?;
        map_page(page, |key, r| r.into_app(*tenant, id(&key)?))
    }

    async fn replace_app(&self, app: &App) -> Result<(), StoreError> {
        let key = child_key(&app.tenant_id, &app.client_id);
        let (expected, value) = (app.version, encode(&AppRecord::new(app, app.version + 1)));
        self.write(move |txn| {
            replace::<AppRecord>(
                &mut open(txn, APPS)?,
                &key,
                expected,
                &value,
                AppRecord::version,
            )
        })
        .await
    }

    async fn delete_app(&self, tenant: &TenantId, client: &ClientId) -> Result<(), StoreError> {
        let key = child_key(tenant, client);
        self.write(move |txn| remove(&mut open(txn, APPS)?, &key))
            .await
    }

    async fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        let tenant = role.tenant_id.to_string();
        let (key, value) = (
            child_key(&role.tenant_id, &role.id),
            encode(&RoleRecord::new(role, 0)),
        );
        self.write(move |txn| {
            require_tenant(txn, &tenant)?;
            insert_new(&mut open(txn, ROLES)?, &key, &value)
        })
        .await
    }

    async fn role(&self, tenant: &TenantId, role: &RoleId) -> Result<Option<Role>, StoreError> {
        let record: Option<RoleRecord> = self.get(ROLES, child_key(tenant, role)).await?;
        record.map(|r| r.into_role(*tenant, *role)).transpose()
    }

    async fn roles(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Role>, StoreError> {
        let page = self
            .list::<RoleRecord>(ROLES, format!("{tenant}/"), page)
            .await?;
        map_page(page, |key, r| r.into_role(*tenant, id(&key)?))
    }

    async fn replace_role(&self, role: &Role) -> Result<(), StoreError> {
        let key = child_key(&role.tenant_id, &role.id);
        let (expected, value) = (
            role.version,
            encode(&RoleRecord::new(role, role.version + 1)),
        );
        self.write(move |txn| {
            replace::<RoleRecord>(
                &mut open(txn, ROLES)?,
                &key,
                expected,
                &value,
                RoleRecord::version,
            )
        })
        .await
    }

    async fn delete_role(&self, tenant: &TenantId, role: &RoleId) -> Result<(), StoreError> {
        let key = child_key(tenant, role);
        self.write(move |txn| remove(&mut open(txn, ROLES)?, &key))
            .await
    }

    async fn revoke(
        &self,
        tenant: &TenantId,
        jti: &Uuid,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let (key, value) = (child_key(tenant, jti), encode(&expires_at));
        self.write(move |txn| {
            open(txn, REVOKED)?
                .insert(key.as_str(), value.as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn token_state(
        &self,
        tenant: &TenantId,
        client: &ClientId,
        jti: &Uuid,
    ) -> Result<TokenState, StoreError> {
        let (tenant_key, app_key, revoked_key) = (
            tenant.to_string(),
            child_key(tenant, client),
            child_key(tenant, jti),
        );
        self.lookup(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let present = |table, key: &str| -> Result<bool, StoreError> {
                let table = txn.open_table(table).map_err(unavailable)?;
                Ok(table.get(key).map_err(unavailable)?.is_some())
            };
            Ok(TokenState {
                client_exists: present(TENANTS, &tenant_key)? && present(APPS, &app_key)?,
                revoked: present(REVOKED, &revoked_key)?,
            })
        })
        .await
    }

    async fn grants(
        &self,
        tenant: &TenantId,
        roles: &[RoleId],
        audience: Option<&ClientId>,
    ) -> Result<(Vec<Role>, Option<App>), StoreError> {
        self.read_grants(*tenant, roles.to_vec(), audience.copied())
            .await
    }

    async fn client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<(Tenant, App)>, StoreError> {
        let since = match self.decoded.client(tenant, client) {
            Ok(copy) => return Ok(Some(copy)),
            Err(since) => since,
        };
        let (tenant_id, client_id) = (*tenant, *client);
        let found = self
            .lookup(|db| {
                let txn = db.begin_read().map_err(unavailable)?;
                let tenants = txn.open_table(TENANTS).map_err(unavailable)?;
                let apps = txn.open_table(APPS).map_err(unavailable)?;
                let app = apps
                    .get(child_key(&tenant_id, &client_id).as_str())
                    .map_err(unavailable)?;
                let Some(app) = app else { return Ok(None) };
                let Some(tenant) = tenants
                    .get(tenant_id.to_string().as_str())
                    .map_err(unavailable)?
                else {
                    return Ok(None);
                };
                let tenant = decode::<TenantRecord>(tenant.value())?.into_tenant(tenant_id)?;
                let app = decode::<AppRecord>(app.value())?.into_app(tenant_id, client_id)?;
                Ok(Some((tenant, app)))
            })
            .await?;
        if let Some((tenant, app)) = &found {
            self.decoded.keep(since, tenant, app);
        }
        Ok(found)
    }
}

impl EmbeddedStore {
    /// The roles and the audience app of a token request, read in one transaction.
    async fn read_grants(
        &self,
        tenant: TenantId,
        roles: Vec<RoleId>,
        audience: Option<ClientId>,
    ) -> Result<(Vec<Role>, Option<App>), StoreError> {
        self.lookup(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let role_table = txn.open_table(ROLES).map_err(unavailable)?;
            let mut found = Vec::with_capacity(roles.len());
            for id in roles {
                if let Some(bytes) = role_table
                    .get(child_key(&tenant, &id).as_str())
                    .map_err(unavailable)?
                {
                    found.push(decode::<RoleRecord>(bytes.value())?.into_role(tenant, id)?);
                }
            }
            let app = match audience {
                Some(client) => {
                    let apps = txn.open_table(APPS).map_err(unavailable)?;
                    let bytes = apps
                        .get(child_key(&tenant, &client).as_str())
                        .map_err(unavailable)?;
                    bytes
                        .map(|b| decode::<AppRecord>(b.value())?.into_app(tenant, client))
                        .transpose()?
                }
                None => None,
            };
            Ok((found, app))
        })
        .await
    }
}

type KvTable<'txn> = Table<'txn, &'static str, &'static [u8]>;

fn open<'txn>(
    txn: &'txn WriteTransaction,
    table: TableDefinition<'static, &'static str, &'static [u8]>,
) -> Result<KvTable<'txn>, StoreError> {
    txn.open_table(table).map_err(unavailable)
}

fn require_tenant(txn: &WriteTransaction, tenant: &str) -> Result<(), StoreError> {
    match open(txn, TENANTS)?.get(tenant).map_err(unavailable)? {
        Some(_) => Ok(()),
        None => Err(StoreError::TenantNotFound),
    }
}

fn insert_new(table: &mut KvTable<'_>, key: &str, value: &[u8]) -> Result<(), StoreError> {
    if table.get(key).map_err(unavailable)?.is_some() {
        return Err(StoreError::AlreadyExists);
    }
    table.insert(key, value).map_err(unavailable)?;
    Ok(())
}

fn replace<R: DeserializeOwned>(
    table: &mut KvTable<'_>,
    key: &str,
    expected: Version,
    value: &[u8],
    version: fn(&R) -> Version,
) -> Result<(), StoreError> {
    let current = match table.get(key).map_err(unavailable)? {
        Some(bytes) => version(&decode::<R>(bytes.value())?),
        None => return Err(StoreError::NotFound),
    };
    if current != expected {
        return Err(StoreError::VersionConflict);
    }
    table.insert(key, value).map_err(unavailable)?;
    Ok(())
}

fn remove(table: &mut KvTable<'_>, key: &str) -> Result<(), StoreError> {
    match table.remove(key).map_err(unavailable)? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound),
    }
}

fn child_key(tenant: &TenantId, child: &impl std::fmt::Display) -> String {
    format!("{tenant}/{child}")
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are structs of strings, integers and lists of them, which always serialize.
    serde_json::to_vec(value).expect("stored records serialize to JSON")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn unavailable(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(Box::new(error.into()))
}
