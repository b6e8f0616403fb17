//! The embedded store's copies of the records the token path reads, decoded, so that a token
//! costs neither a read transaction nor JSON and base64 decoding.
//!
//! The copies are never stale: redb locks its file to one process, every write of that process
//! goes through the store, and every commit empties the copies before the write returns. A
//! read that began before a commit cannot put back what the commit replaced: copies are only
//! kept if no commit happened since the read began.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::{App, ClientId, Tenant, TenantId};

/// The most tenants, and apps, kept; past it the copies start over.
pub(super) const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(super) struct Decoded {
    inner: RwLock<Copies>,
}

#[derive(Default)]
struct Copies {
    /// Commits so far: copies read before the latest commit are not kept.
    generation: u64,
    tenants: HashMap<TenantId, Tenant>,
    apps: HashMap<(TenantId, ClientId), App>,
}

/// Where a read that found no copy began: pass it back with what was read.
#[derive(Clone, Copy)]
pub(super) struct Generation(u64);

impl Decoded {
    /// The client and its tenant if both are copied; otherwise where a read of them begins.
    pub(super) fn client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<(Tenant, App), Generation> {
        let copies = self.read();
        match (
            copies.tenants.get(tenant),
            copies.apps.get(&(*tenant, *client)),
        ) {
            (Some(tenant), Some(app)) => Ok((tenant.clone(), app.clone())),
            _ => Err(Generation(copies.generation)),
        }
    }

    /// Keeps a client and its tenant read since `since`, unless a commit came between.
    pub(super) fn keep(&self, since: Generation, tenant: &Tenant, app: &App) {
        let mut copies = self.write();
        if copies.generation != since.0 {
            return;
        }
        if copies.tenants.len() >= MAX_ENTRIES || copies.apps.len() >= MAX_ENTRIES {
            copies.tenants.clear();
            copies.apps.clear();
        }
        copies.tenants.insert(tenant.id, tenant.clone());
        copies
            .apps
            .insert((app.tenant_id, app.client_id), app.clone());
    }

    /// Forgets every copy; called after each commit, before the write returns.
    pub(super) fn committed(&self) {
        let mut copies = self.write();
        copies.generation += 1;
        copies.tenants.clear();
        copies.apps.clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Copies> {
        // The lock guards plain maps that no panic can leave half-updated.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Copies> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Algorithm, Custody, KeySet, KeyState, Name, SigningKey, TokenTtl};
    use crate::ports::SystemRandom;

    fn key() -> SigningKey {
        SigningKey {
            kid: "k".into(),
            algorithm: Algorithm::Es256,
            public_der: Vec::new(),
            custody: Custody::Wrapped {
                ciphertext: Vec::new(),
            },
            created_at: 0,
            state: KeyState::Next,
        }
    }

    fn client() -> (Tenant, App) {
        let tenant = Tenant {
            id: TenantId::generate(&SystemRandom),
            name: Name::parse("t").expect("name"),
            token_ttl: TokenTtl::DEFAULT,
            keys: KeySet::new(key(), key()),
            created_at: 0,
            version: 0,
        };
        let app = App {
            tenant_id: tenant.id,
            client_id: ClientId::generate(&SystemRandom),
            name: Name::parse("a").expect("name"),
            secrets: Vec::new(),
            scopes: Vec::new(),
            roles: Vec::new(),
            token_ttl: None,
            created_at: 0,
            version: 0,
        };
        (tenant, app)
    }

    #[test]
    fn a_kept_client_is_served_until_the_next_commit() {
        let (decoded, (tenant, app)) = (Decoded::default(), client());
        let since = decoded
            .client(&tenant.id, &app.client_id)
            .expect_err("empty");
        decoded.keep(since, &tenant, &app);
        assert_eq!(
            decoded.client(&tenant.id, &app.client_id).ok(),
            Some((tenant.clone(), app.clone()))
        );
        decoded.committed();
        assert!(decoded.client(&tenant.id, &app.client_id).is_err());
    }

    #[test]
    fn a_read_that_began_before_a_commit_is_not_kept() {
        let (decoded, (tenant, app)) = (Decoded::default(), client());
        let since = decoded
            .client(&tenant.id, &app.client_id)
            .expect_err("empty");
        decoded.committed();
        decoded.keep(since, &tenant, &app);
        assert!(decoded.client(&tenant.id, &app.client_id).is_err());
    }

    #[test]
    fn copies_start_over_when_full() {
        let decoded = Decoded::default();
        let clients: Vec<_> = (0..=MAX_ENTRIES).map(|_| client()).collect();
        for (tenant, app) in &clients {
            let since = decoded.client(&tenant.id, &app.client_id).expect_err("new");
            decoded.keep(since, tenant, app);
        }
        let (first, last) = (&clients[0], &clients[MAX_ENTRIES]);
        assert!(decoded.client(&first.0.id, &first.1.client_id).is_err());
        assert!(decoded.client(&last.0.id, &last.1.client_id).is_ok());
        assert_eq!(decoded.read().apps.len(), 1);
    }
}
