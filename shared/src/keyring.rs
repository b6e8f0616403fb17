//! What the token function keeps between requests: the signers it opened and the key sets it
//! published, so that the token path makes no call a previous request already made.
//!
//! Staleness is bounded and differs by use:
//! - *Signing* follows the tenant record read with the client on every token request, so a
//!   rotation or an algorithm change takes effect on the next token. A signer is cached by key
//!   id, and a key id (the thumbprint of the public key) always names the same key pair, so a
//!   cached signer is never stale; it is simply no longer chosen once its key stops being
//!   current.
//! - *Publishing and verifying* (public keys, metadata, introspection, revocation) use a
//!   tenant's key set for up to [`KEY_SET_CACHE_SECONDS`] after reading it; a deleted tenant's
//!   keys or a key that finished retiring disappear within that time. Rotation publishes keys
//!   far longer than that before they sign, so no verifier misses a key because of it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::{SigningKey, Tenant, TenantId};
use crate::jwk::{Jwk, JwkSet};
use crate::jwt::{JwtSigner, JwtVerifier};
use crate::ports::{KeyVault, SignError};

/// How long a tenant's published key set is used before it is read again.
pub const KEY_SET_CACHE_SECONDS: u64 = 60;

/// Cached entries of each kind are bounded; when full, the cache starts over.
const CAPACITY: usize = 4_096;

pub struct Keyring {
    vault: Arc<dyn KeyVault>,
    signers: RwLock<HashMap<String, Arc<JwtSigner>>>,
    key_sets: RwLock<HashMap<TenantId, (u64, Arc<PublishedKeys>)>>,
}

/// A tenant's published keys, as verifiers fetch them and as we verify with them.
pub struct PublishedKeys {
    pub jwks: JwkSet,
    pub verifier: JwtVerifier,
}

impl Keyring {
    pub fn new(vault: Arc<dyn KeyVault>) -> Self {
        Self {
            vault,
            signers: RwLock::default(),
            key_sets: RwLock::default(),
        }
    }

    /// The signer of `key`, opened through the vault the first time the key is used in this
    /// process (in KMS wrapped mode, the one `Decrypt` call).
    pub async fn signer(
        &self,
        tenant: &TenantId,
        key: &SigningKey,
    ) -> Result<Arc<JwtSigner>, SignError> {
        if let Some(signer) = read(&self.signers).get(&key.kid) {
            return Ok(signer.clone());
        }
        let signer = Arc::new(JwtSigner::new(self.vault.open(tenant, key).await?));
        insert(&self.signers, key.kid.clone(), signer.clone());
        Ok(signer)
    }

    /// The tenant's key set if it was read less than [`KEY_SET_CACHE_SECONDS`] before `now`.
    pub fn cached_key_set(&self, tenant: &TenantId, now: u64) -> Option<Arc<PublishedKeys>> {
        read(&self.key_sets)
            .get(tenant)
            .filter(|(read_at, _)| now < read_at + KEY_SET_CACHE_SECONDS)
            .map(|(_, keys)| keys.clone())
    }

    /// The key set of `tenant` as just read from the store, remembered from `now` on.
    pub fn key_set(&self, tenant: &Tenant, now: u64) -> Arc<PublishedKeys> {
        let jwks: Vec<Jwk> = tenant
            .keys
            .published(now)
            .filter_map(|key| Jwk::from_spki_der(&key.public_der, key.algorithm).ok())
            .collect();
        let keys = Arc::new(PublishedKeys {
            verifier: JwtVerifier::new(&jwks),
            jwks: JwkSet { keys: jwks },
        });
        insert(&self.key_sets, tenant.id, (now, keys.clone()));
        keys
    }

    /// Forgets the tenant's key set, so that the next use reads it again.
    pub fn forget(&self, tenant: &TenantId) {
        write(&self.key_sets).remove(tenant);
    }
}

fn read<K, V>(lock: &RwLock<HashMap<K, V>>) -> std::sync::RwLockReadGuard<'_, HashMap<K, V>> {
    // A panic while holding the lock cannot leave a map of immutable entries half-changed.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<K, V>(lock: &RwLock<HashMap<K, V>>) -> std::sync::RwLockWriteGuard<'_, HashMap<K, V>> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn insert<K: std::hash::Hash + Eq, V>(lock: &RwLock<HashMap<K, V>>, key: K, value: V) {
    let mut map = write(lock);
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(key, value);
}
