//! The DynamoDB store: one table, keyed by `pk` and `sk`.
//!
//! | item         | pk           | sk              |
//! |--------------|--------------|-----------------|
//! | tenant       | `T#<tenant>` | `TENANT`        |
//! | tenant index | `TENANTS`    | `T#<tenant>`    |
//! | app          | `T#<tenant>` | `APP#<client>`  |
//! | role         | `T#<tenant>` | `ROLE#<role>`   |
//! | revocation   | `T#<tenant>` | `REVOKED#<jti>` |
//!
//! A revocation carries `expires_at`, the token's expiry, which is the table's TTL attribute:
//! DynamoDB drops the record once the token could not be used anyway.
//!
//! A tenant's items share its partition key, so "everything of a tenant" is one query and a
//! client id of one tenant is unreachable from another by construction. The index holds a copy
//! of each tenant, written in the same transaction, so that tenants can be listed without a
//! scan. Every write is conditional; replacements check the version they read. Reads are
//! strongly consistent, so an app can get a token the moment it is registered and a revoked
//! secret stops working at once.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put,
    TransactWriteItem, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::records::{AppRecord, RoleRecord, TenantRecord, id, map_page};
use crate::domain::{App, ClientId, Role, RoleId, Tenant, TenantId, Version};
use crate::ports::{Page, PageRequest, Store, StoreError, TokenState};
use uuid::Uuid;

const TENANT_SK: &str = "TENANT";
const INDEX_PK: &str = "TENANTS";
const TENANT_PREFIX: &str = "T#";
const APP_PREFIX: &str = "APP#";
const ROLE_PREFIX: &str = "ROLE#";
const REVOKED_PREFIX: &str = "REVOKED#";
const NOT_EXISTS: &str = "attribute_not_exists(pk)";
const EXISTS: &str = "attribute_exists(pk)";
const SAME_VERSION: &str = "version = :expected";
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// DynamoDB's limit of requests in one `BatchWriteItem`.
const BATCH_WRITE_MAX: usize = 25;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let record = TenantRecord::new(tenant, 0);
        let puts = [
            self.put(tenant_key(&tenant.id), &record, NOT_EXISTS)?,
            self.put(index_key(&tenant.id), &record, NOT_EXISTS)?,
        ];
        let reasons = self.transact(puts).await?;
        match reasons.as_slice() {
            [] => Ok(()),
            [Some(CONDITION_FAILED), ..] | [_, Some(CONDITION_FAILED)] => {
                Err(StoreError::AlreadyExists)
            }
            _ => Err(unexplained()),
        }
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let record: Option<TenantRecord> = self.get(tenant_key(id)).await?;
        record.map(|r| r.into_tenant(*id)).transpose()
    }

    async fn tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError> {
        let page = self
            .query::<TenantRecord>(INDEX_PK.to_owned(), TENANT_PREFIX, page)
            .await?;
        map_page(page, |key, r| r.into_tenant(id(&key)?))
    }

    async fn replace_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let record = TenantRecord::new(tenant, tenant.version + 1);
        let puts = [
            self.versioned_put(tenant_key(&tenant.id), &record, tenant.version)?,
            self.put(index_key(&tenant.id), &record, EXISTS)?,
        ];
        let reasons = self.transact(puts).await?;
        if reasons.is_empty() {
            return Ok(());
        }
        self.explain_failed_replace(tenant_key(&tenant.id)).await
    }

    /// Removes the tenant's items first and the tenant last, so that an interrupted deletion
    /// leaves a tenant that can be deleted again; a last sweep takes items added meanwhile.
    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        if self.tenant(id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        self.delete_children(id).await?;
        let deletes = [
            TransactWriteItem::builder()
                .delete(self.delete_op(tenant_key(id), EXISTS)?)
                .build(),
            TransactWriteItem::builder()
                .delete(self.delete_op(index_key(id), EXISTS)?)
                .build(),
        ];
        match self.transact(deletes).await?.as_slice() {
            [] => {}
            [Some(CONDITION_FAILED), ..] => return Err(StoreError::NotFound),
            _ => return Err(unexplained()),
        }
        self.delete_children(id).await
    }

    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let key = child_key(&app.tenant_id, APP_PREFIX, &app.client_id);
        self.insert_child(&app.tenant_id, key, &AppRecord::new(app, 0))
            .await
    }

    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError> {
        let record: Option<AppRecord> = self.get(child_key(tenant, APP_PREFIX, client)).await?;
        record.map(|r| r.into_app(*tenant, *client)).transpose()
    }

    async fn apps(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<App>, StoreError> {
        let page = self
            .query::<AppRecord>(tenant_pk(tenant), APP_PREFIX, page)
            .await?;
        map_page(page, |key, r| r.into_app(*tenant, id(&key)?))
    }

    async fn replace_app(&self, app: &App) -> Result<(), StoreError> {
        let key = child_key(&app.tenant_id, APP_PREFIX, &app.client_id);
        self.replace(key, &AppRecord::new(app, app.version + 1), app.version)
            .await
    }

    async fn delete_app(&self, tenant: &TenantId, client: &ClientId) -> Result<(), StoreError> {
        self.delete(child_key(tenant, APP_PREFIX, client)).await
    }

    async fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        let key = child_key(&role.tenant_id, ROLE_PREFIX, &role.id);
        self.insert_child(&role.tenant_id, key, &RoleRecord::new(role, 0))
            .await
    }

    async fn role(&self, tenant: &TenantId, role: &RoleId) -> Result<Option<Role>, StoreError> {
        let record: Option<RoleRecord> = self.get(child_key(tenant, ROLE_PREFIX, role)).await?;
        record.map(|r| r.into_role(*tenant, *role)).transpose()
    }

    async fn roles(&self, tenant: &TenantId, page: &PageRequest) -> Result<Page<Role>, StoreError> {
        let page = self
            .query::<RoleRecord>(tenant_pk(tenant), ROLE_PREFIX, page)
            .await?;
        map_page(page, |key, r| r.into_role(*tenant, id(&key)?))
    }

    async fn replace_role(&self, role: &Role) -> Result<(), StoreError> {
        let key = child_key(&role.tenant_id, ROLE_PREFIX, &role.id);
        self.replace(key, &RoleRecord::new(role, role.version + 1), role.version)
            .await
    }

    async fn delete_role(&self, tenant: &TenantId, role: &RoleId) -> Result<(), StoreError> {
        self.delete(child_key(tenant, ROLE_PREFIX, role)).await
    }

    async fn client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<(Tenant, App)>, StoreError> {
        let items = self
            .batch_get(vec![
                tenant_key(tenant),
                child_key(tenant, APP_PREFIX, client),
            ])
            .await?;
        let (mut tenant_item, mut app_item) = (None, None);
        for (sk, item) in items {
            if sk == TENANT_SK {
                tenant_item = Some(item)
            } else {
                app_item = Some(item)
            }
        }
        let (Some(tenant_item), Some(app_item)) = (tenant_item, app_item) else {
            return Ok(None);
        };
        let tenant = from_item::<TenantRecord>(tenant_item)?.into_tenant(*tenant)?;
        let app = from_item::<AppRecord>(app_item)?.into_app(tenant.id, *client)?;
        Ok(Some((tenant, app)))
    }

    async fn revoke(
        &self,
        tenant: &TenantId,
        jti: &Uuid,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut item = child_key(tenant, REVOKED_PREFIX, jti);
        item.insert(
            "expires_at".to_owned(),
            AttributeValue::N(expires_at.to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn token_state(
        &self,
        tenant: &TenantId,
        client: &ClientId,
        jti: &Uuid,
    ) -> Result<TokenState, StoreError> {
        let keys = vec![
            tenant_key(tenant),
            child_key(tenant, APP_PREFIX, client),
            child_key(tenant, REVOKED_PREFIX, jti),
        ];
        let found: Vec<String> = self
            .batch_get(keys)
            .await?
            .into_iter()
            .map(|(sk, _)| sk)
            .collect();
        let has = |prefix: &str| found.iter().any(|sk| sk.starts_with(prefix));
        Ok(TokenState {
            client_exists: has(TENANT_SK) && has(APP_PREFIX),
            revoked: has(REVOKED_PREFIX),
        })
    }

    async fn grants(
        &self,
        tenant: &TenantId,
        roles: &[RoleId],
        audience: Option<&ClientId>,
    ) -> Result<(Vec<Role>, Option<App>), StoreError> {
        let mut keys: Vec<Item> = roles
            .iter()
            .map(|r| child_key(tenant, ROLE_PREFIX, r))
            .collect();
        keys.extend(audience.map(|a| child_key(tenant, APP_PREFIX, a)));
        let (mut found, mut app) = (Vec::new(), None);
        for (sk, item) in self.batch_get(keys).await? {
            if let Some(raw) = sk.strip_prefix(ROLE_PREFIX) {
                found.push(from_item::<RoleRecord>(item)?.into_role(*tenant, id(raw)?)?);
            } else if let Some(raw) = sk.strip_prefix(APP_PREFIX) {
                app = Some(from_item::<AppRecord>(item)?.into_app(*tenant, id(raw)?)?);
            }
        }
        // BatchGetItem answers in no particular order; keep the order of the assignment.
        found.sort_by_key(|role| roles.iter().position(|r| *r == role.id));
        Ok((found, app))
    }
}

impl DynamoStore {
    /// Reads up to 100 items (DynamoDB's limit) of the table in one strongly consistent round
    /// trip; returns each with its sort key.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<(String, Item)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, keys)
            .send()
            .await
            .map_err(classify)?;
        if output
            .unprocessed_keys
            .as_ref()
            .is_some_and(|keys| !keys.is_empty())
        {
            return Err(StoreError::Throttled(
                "DynamoDB left keys of the read unprocessed".into(),
            ));
        }
        let items = output
            .responses
            .and_then(|mut r| r.remove(&self.table))
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|item| {
                let sk = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.clone(),
                    _ => String::new(),
                };
                (sk, item)
            })
            .collect())
    }

    async fn get<R: DeserializeOwned>(&self, key: Item) -> Result<Option<R>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        output.item.map(from_item).transpose()
    }

    /// One page of the items of partition `pk` whose sort keys start with `prefix`.
    async fn query<R: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, R)>, StoreError> {
        // BETWEEN is inclusive, so the cursor's own item is skipped below; `~` sorts after every
        // character of an id.
        let from = format!("{prefix}{}", page.after.as_deref().unwrap_or(""));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":to", AttributeValue::S(format!("{prefix}~")))
            .consistent_read(true)
            .limit(i32::try_from(page.limit + 2).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        let mut items = Vec::new();
        let mut next = None;
        for mut item in output.items.unwrap_or_default() {
            let Some(AttributeValue::S(sk)) = item.remove("sk") else {
                continue;
            };
            let key = sk.strip_prefix(prefix).unwrap_or(&sk).to_owned();
            if page.after.as_deref() == Some(key.as_str()) {
                continue;
            }
            if items.len() == page.limit {
                next = items.last().map(|(k, _): &(String, R)| k.clone());
                break;
            }
            items.push((key, from_item(item)?));
        }
        Ok(Page { items, next })
    }

    fn put<R: Serialize>(
        &self,
        key: Item,
        record: &R,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_key(key, record)?))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn versioned_put<R: Serialize>(
        &self,
        key: Item,
        record: &R,
        expected: Version,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_key(key, record)?))
            .condition_expression(SAME_VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete_op(&self, key: Item, condition: &str) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))
    }

    /// Runs a transaction; returns the cancellation reasons, one per item in order, when it was
    /// cancelled, and nothing when it applied.
    async fn transact(
        &self,
        items: impl IntoIterator<Item = TransactWriteItem>,
    ) -> Result<Vec<Option<&'static str>>, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.into_iter().collect()))
            .send()
            .await;
        let Err(error) = result else {
            return Ok(Vec::new());
        };
        let reasons: Vec<Option<&'static str>> = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
                .cancellation_reasons()
                .iter()
                .map(|r| match r.code() {
                    Some(CONDITION_FAILED) => Some(CONDITION_FAILED),
                    Some("None") | None => None,
                    Some(_) => Some("Other"),
                })
                .collect(),
            _ => return Err(classify(error)),
        };
        if reasons.contains(&Some("Other")) {
            return Err(classify(error));
        }
        Ok(reasons)
    }

    /// Adds an item below a tenant in one transaction with the check that the tenant exists.
    async fn insert_child<R: Serialize>(
        &self,
        tenant: &TenantId,
        key: Item,
        record: &R,
    ) -> Result<(), StoreError> {
        let tenant_check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(tenant_key(tenant)))
            .condition_expression(EXISTS)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let items = [
            TransactWriteItem::builder()
                .condition_check(tenant_check)
                .build(),
            self.put(key, record, NOT_EXISTS)?,
        ];
        match self.transact(items).await?.as_slice() {
            [] => Ok(()),
            [Some(CONDITION_FAILED), ..] => Err(StoreError::TenantNotFound),
            [_, Some(CONDITION_FAILED)] => Err(StoreError::AlreadyExists),
            _ => Err(unexplained()),
        }
    }

    async fn replace<R: Serialize>(
        &self,
        key: Item,
        record: &R,
        expected: Version,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_key(key.clone(), record)?))
            .condition_expression(SAME_VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                self.explain_failed_replace(key).await
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// A versioned write failed its condition: the item is gone, or another write came first.
    async fn explain_failed_replace(&self, key: Item) -> Result<(), StoreError> {
        let exists = self.get::<serde::de::IgnoredAny>(key).await?.is_some();
        Err(if exists {
            StoreError::VersionConflict
        } else {
            StoreError::NotFound
        })
    }

    async fn delete(&self, key: Item) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(EXISTS)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Deletes every item of the tenant's partition but the tenant itself.
    async fn delete_children(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(tenant_pk(tenant)))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            let children: Vec<Item> = output
                .items
                .unwrap_or_default()
                .into_iter()
                .filter(|item| !matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == TENANT_SK))
                .collect();
            for chunk in children.chunks(BATCH_WRITE_MAX) {
                self.batch_delete(chunk.to_vec()).await?;
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(()),
            }
        }
    }

    async fn batch_delete(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let mut requests = keys
            .into_iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.into()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Unprocessed requests are retried a few times, as DynamoDB asks; the SDK's own retries
        // already back off between attempts.
        for _ in 0..5 {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(classify)?;
            requests = output
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Throttled(
            "DynamoDB kept deletions of a tenant unprocessed".into(),
        ))
    }
}

fn tenant_pk(tenant: &TenantId) -> String {
    format!("{TENANT_PREFIX}{tenant}")
}

fn tenant_key(tenant: &TenantId) -> Item {
    key(tenant_pk(tenant), TENANT_SK.to_owned())
}

fn index_key(tenant: &TenantId) -> Item {
    key(INDEX_PK.to_owned(), format!("{TENANT_PREFIX}{tenant}"))
}

fn child_key(tenant: &TenantId, prefix: &str, child: &impl std::fmt::Display) -> Item {
    key(tenant_pk(tenant), format!("{prefix}{child}"))
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

fn with_key<R: Serialize>(mut key: Item, record: &R) -> Result<Item, StoreError> {
    let item: Item =
        serde_dynamo::to_item(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    key.extend(item);
    Ok(key)
}

fn from_item<R: DeserializeOwned>(item: Item) -> Result<R, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn unexplained() -> StoreError {
    StoreError::Unavailable("DynamoDB cancelled a transaction without a condition failing".into())
}

/// Throttling is told apart from other failures so callers can answer `Retry-After`.
fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    const THROTTLING: [&str; 4] = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    ];
    match error.code() {
        Some(code) if THROTTLING.contains(&code) => StoreError::Throttled(error.into()),
        _ => StoreError::Unavailable(error.into()),
    }
}
