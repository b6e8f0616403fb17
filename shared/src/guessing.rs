//! Slowing credential guessing at the endpoints that authenticate clients (token,
//! introspection, revocation).
//!
//! Every failed client authentication is charged to two budgets: the client id's, within its
//! tenant, and the source address's (an IPv6 address counts by its /64, which one holder gets
//! at no cost). A budget allows `limit` failures at once and regains them at `limit` a minute.
//! While either budget of a request is spent, the request is answered `429` with `Retry-After`
//! before its client is looked up, so a guesser gets at most about `limit` verdicts a minute
//! per client id however many addresses it uses, and per address however many client ids it
//! tries. Unknown client ids are charged exactly like known ones, so the point at which `429`
//! starts tells nothing about which ids exist.
//!
//! The holder of the right secret is never locked out by someone else's failures: a secret that
//! authenticated its client is remembered (as the SHA-256 digest the store keeps, compared in
//! constant time) for a day, and a request presenting it skips both budgets, from any address.
//! Guessers cannot present it, so they gain nothing from that. A holder that the process has
//! not seen yet, arriving while its client id or its address is spent, is slowed, not stopped:
//! a budget regains a failure every `60 / limit` seconds, and the next request after that is
//! evaluated whoever sends it.
//!
//! The budgets live in the process, like the tenant rate limit: per `appid-local` process and
//! per Lambda container.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::domain::{ClientId, PresentedSecret, SecretDigest, TenantId};
use crate::ports::Clock;
use crate::ratelimit::{Buckets, Refill, WhenFull};

/// The failures a client id and a source address may each have at once, regained at this many
/// a minute, unless the operator sets another figure.
pub const DEFAULT_FAILURES_PER_MINUTE: u32 = 10;

/// How long a secret that authenticated its client exempts it from the budgets.
const PROVEN_SECONDS: u64 = 24 * 3600;

/// Secrets remembered per client: as many as may be live at once (the current one and the
/// previous one during a rotation's grace period).
const REMEMBERED_PER_CLIENT: usize = 2;

/// Budgets and exemptions tracked at most; see [`Buckets`] for what happens beyond.
const MAX_TRACKED: usize = 100_000;

/// Where a request came from, as the entry point saw it: the TCP peer locally, API Gateway's
/// `sourceIp` on Lambda. Entry points put it into the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddr(pub IpAddr);

/// The budget key of an address: IPv4 addresses as they are, IPv6 addresses by their /64
/// (IPv4-mapped ones as the IPv4 address they map).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddrKey {
    V4(u32),
    V6Prefix(u64),
}

impl From<SourceAddr> for AddrKey {
    fn from(SourceAddr(ip): SourceAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.into()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.into()),
                None => Self::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The two budgets and the secrets that proved themselves.
pub struct GuessingGuard {
    clock: Arc<dyn Clock>,
    budgets: Option<Budgets>,
    proven: Mutex<HashMap<(TenantId, ClientId), [Proven; REMEMBERED_PER_CLIENT]>>,
}

struct Budgets {
    clients: Buckets<(TenantId, ClientId)>,
    addresses: Buckets<AddrKey>,
}

/// A secret that authenticated its client, until `until`; `until == 0` marks an empty slot.
#[derive(Clone, Copy)]
struct Proven {
    digest: SecretDigest,
    until: u64,
}

/// Who is authenticating with what: the client id it names (`None` when it is not even a
/// client id), where it comes from (`None` when the entry point cannot tell) and its secret.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub tenant: TenantId,
    pub client: Option<ClientId>,
    pub source: Option<SourceAddr>,
    pub secret: &'a PresentedSecret,
}

/// The attempt was refused unheard; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slowed {
    pub retry_after: u64,
}

impl GuessingGuard {
    /// `failures_per_minute` of 0 turns the guard off.
    pub fn new(failures_per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let refill = Refill::per(u64::from(failures_per_minute), 60);
        let budgets = (failures_per_minute > 0).then(|| Budgets {
            clients: Buckets::new(refill, MAX_TRACKED, WhenFull::Refuse),
            addresses: Buckets::new(refill, MAX_TRACKED, WhenFull::Refuse),
        });
        Self {
            clock,
            budgets,
            proven: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the attempt may be evaluated: while neither of its budgets is spent, or when it
    /// presents a secret that authenticated its client before.
    pub fn admit(&self, attempt: &Attempt<'_>) -> Result<(), Slowed> {
        let Some(budgets) = &self.budgets else {
            return Ok(());
        };
        let now = self.clock.now();
        let client = match attempt.client {
            Some(client) => budgets.clients.check((attempt.tenant, client), now),
            None => Ok(()),
        };
        let address = match attempt.source {
            Some(source) => budgets.addresses.check(source.into(), now),
            None => Ok(()),
        };
        let Err(retry_after) = client.and(address) else {
            return Ok(());
        };
        if self.is_proven(attempt, now) {
            return Ok(());
        }
        Err(Slowed { retry_after })
    }

    /// Charges a failed authentication to the attempt's budgets, and forgets its secret if it
    /// had proven itself before (it was since revoked, or its client deleted).
    pub fn failed(&self, attempt: &Attempt<'_>) {
        let Some(budgets) = &self.budgets else {
            return;
        };
        let now = self.clock.now();
        if let Some(client) = attempt.client {
            let presented = attempt.secret.digest();
            let mut remembered = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slots) = remembered.get_mut(&(attempt.tenant, client)) {
                for slot in slots.iter_mut() {
                    if slot.digest.constant_time_eq(&presented) {
                        slot.until = 0;
                    }
                }
            }
            drop(remembered);
            let _ = budgets.clients.take((attempt.tenant, client), now);
        }
        if let Some(source) = attempt.source {
            let _ = budgets.addresses.take(source.into(), now);
        }
    }

    /// Remembers that the attempt's secret authenticated its client.
    pub fn succeeded(&self, attempt: &Attempt<'_>) {
        let (Some(client), Some(_)) = (attempt.client, &self.budgets) else {
            return;
        };
        let now = self.clock.now();
        let proven = Proven {
            digest: attempt.secret.digest(),
            until: now + PROVEN_SECONDS,
        };
        let mut remembered = self.proven.lock().unwrap_or_else(|p| p.into_inner());
        let key = (attempt.tenant, client);
        if !remembered.contains_key(&key) && remembered.len() >= MAX_TRACKED {
            remembered.retain(|_, slots| slots.iter().any(|p| p.until > now));
            if remembered.len() >= MAX_TRACKED {
                return;
            }
        }
        let slots = remembered.entry(key).or_insert(
            [Proven {
                digest: proven.digest,
                until: 0,
            }; REMEMBERED_PER_CLIENT],
        );
        // Renew the slot holding this secret, or else take the one that expires first.
        let slot = match slots
            .iter()
            .position(|p| p.digest.constant_time_eq(&proven.digest))
        {
            Some(same) => same,
            None => (0..REMEMBERED_PER_CLIENT)
                .min_by_key(|&i| slots[i].until)
                .unwrap_or(0),
        };
        slots[slot] = proven;
    }

    /// Whether the attempt's secret authenticated its client before, and lately. Every slot is
    /// compared, so the time taken does not depend on which one matches.
    fn is_proven(&self, attempt: &Attempt<'_>, now: u64) -> bool {
        let Some(client) = attempt.client else {
            return false;
        };
        let presented = attempt.secret.digest();
        let remembered = self.proven.lock().unwrap_or_else(|p| p.into_inner());
        remembered
            .get(&(attempt.tenant, client))
            .is_some_and(|slots| {
                slots.iter().fold(false, |found, p| {
                    found | (p.digest.constant_time_eq(&presented) & (p.until > now))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> AddrKey {
        SourceAddr(ip.parse().expect("an address")).into()
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }
}
