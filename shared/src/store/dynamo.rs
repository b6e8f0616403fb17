//! The DynamoDB store: one table, keyed by `pk` (the tenant) and `sk` (the item in it).
//!
//! | item   | pk            | sk            | attributes                               |
//! |--------|---------------|---------------|------------------------------------------|
//! | tenant | `T#<tenant>`  | `TENANT`      | `name`, `created_at`                     |
//! | app    | `T#<tenant>`  | `APP#<client>`| `name`, `secret_sha256` (B), `created_at` |
//!
//! Keeping a tenant's items under one partition key makes "everything of a tenant" one query,
//! and makes a client id of one tenant unreachable from another by construction. Every write is
//! conditional, and registering an app is one transaction with a check that its tenant exists.
//! Reads are strongly consistent so that an app can get a token the moment it is registered.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use crate::domain::{App, ClientId, Name, SecretDigest, Tenant, TenantId};
use crate::ports::{Store, StoreError};

const TENANT_SK: &str = "TENANT";
const NOT_EXISTS: &str = "attribute_not_exists(pk)";
const EXISTS: &str = "attribute_exists(pk)";
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

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
        let mut item = key(&tenant.id, TENANT_SK.to_owned());
        item.insert("name".into(), s(tenant.name.as_str()));
        item.insert("created_at".into(), n(tenant.created_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(NOT_EXISTS)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ConditionalCheckFailedException") => StoreError::AlreadyExists,
                _ => classify(e),
            })?;
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let Some(item) = self.get(key(id, TENANT_SK.to_owned())).await? else {
            return Ok(None);
        };
        Ok(Some(Tenant {
            id: *id,
            name: name_attr(&item)?,
            created_at: number_attr(&item, "created_at")?,
        }))
    }

    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let tenant_check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(&app.tenant_id, TENANT_SK.to_owned())))
            .condition_expression(EXISTS)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let mut item = key(&app.tenant_id, app_sk(&app.client_id));
        item.insert("name".into(), s(app.name.as_str()));
        item.insert(
            "secret_sha256".into(),
            AttributeValue::B(Blob::new(*app.secret_digest.as_bytes())),
        );
        item.insert("created_at".into(), n(app.created_at));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(NOT_EXISTS)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(tenant_check)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        // Cancellation reasons come in the order of the transaction's items: the tenant check,
        // then the put.
        let reasons: Vec<Option<&str>> = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                e.cancellation_reasons().iter().map(|r| r.code()).collect()
            }
            _ => Vec::new(),
        };
        match reasons.as_slice() {
            [Some(CONDITION_FAILED), ..] => Err(StoreError::TenantNotFound),
            [_, Some(CONDITION_FAILED)] => Err(StoreError::AlreadyExists),
            _ => Err(classify(error)),
        }
    }

    async fn app(&self, tenant: &TenantId, client: &ClientId) -> Result<Option<App>, StoreError> {
        let Some(item) = self.get(key(tenant, app_sk(client))).await? else {
            return Ok(None);
        };
        let digest = match item.get("secret_sha256") {
            Some(AttributeValue::B(blob)) => SecretDigest::from_bytes(blob.as_ref()),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt("app item without a 32-byte secret_sha256".into()))?;
        Ok(Some(App {
            tenant_id: *tenant,
            client_id: *client,
            name: name_attr(&item)?,
            secret_digest: digest,
            created_at: number_attr(&item, "created_at")?,
        }))
    }
}

type Item = HashMap<String, AttributeValue>;

impl DynamoStore {
    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(output.item)
    }
}

fn key(tenant: &TenantId, sk: String) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&format!("T#{tenant}"))),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

fn app_sk(client: &ClientId) -> String {
    format!("APP#{client}")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn name_attr(item: &Item) -> Result<Name, StoreError> {
    match item.get("name") {
        Some(AttributeValue::S(raw)) => {
            Name::parse(raw).map_err(|e| StoreError::Corrupt(format!("stored name: {e}")))
        }
        _ => Err(StoreError::Corrupt("item without a string name".into())),
    }
}

fn number_attr(item: &Item, attr: &str) -> Result<u64, StoreError> {
    match item.get(attr) {
        Some(AttributeValue::N(raw)) => raw.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("item without a numeric {attr}")))
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
