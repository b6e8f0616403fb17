//! Per-tenant rate limiting of the OAuth endpoints that take credentials, as App ID promises:
//! over the rate, `429` with `Retry-After`.
//!
//! Each tenant has a token bucket holding up to `burst` requests and refilled at `per_second`.
//! The buckets live in the process, so the limit holds per `appid-local` process and per Lambda
//! container; on AWS, API Gateway's route throttling (set to the same figures by the template)
//! bounds the whole deployment. The check runs before the body is read or the store is asked,
//! so a flood costs neither.
//!
//! [`Buckets`] is the token-bucket map behind it, also used by the failed-authentication
//! budgets of [`crate::guessing`]: a bucket holds up to `capacity` units and regains
//! `refill_per_second` units a second, and one event costs `cost` units. With whole-second
//! clocks that expresses both "200 a second" and "10 a minute".

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::domain::TenantId;
use crate::ports::Clock;

/// Buckets beyond this many are swept of full (idle) ones, so that requests naming random
/// tenant ids cannot grow the map without bound.
const MAX_TRACKED: usize = 100_000;

/// The configured rate; `per_second == 0` turns limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    pub const DEFAULT: Self = Self {
        per_second: 200,
        burst: 400,
    };
    pub const OFF: Self = Self {
        per_second: 0,
        burst: 0,
    };
}

pub struct RateLimiter {
    limit: RateLimit,
    clock: Arc<dyn Clock>,
    buckets: Buckets<TenantId>,
}

/// A request over the limit; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> Self {
        let refill = Refill {
            capacity: u64::from(limit.burst.max(1)),
            refill_per_second: u64::from(limit.per_second),
            cost: 1,
        };
        Self {
            limit,
            clock,
            // A flood of made-up tenant ids must not keep real tenants out: beyond the bound,
            // a tenant is served untracked.
            buckets: Buckets::new(refill, MAX_TRACKED, WhenFull::Admit),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one request from the tenant's bucket, or says how long to wait.
    pub fn check(&self, tenant: TenantId) -> Result<(), Limited> {
        if self.limit.per_second == 0 {
            return Ok(());
        }
        self.buckets
            .take(tenant, self.clock.now())
            .map_err(|retry_after| Limited { retry_after })
    }
}

/// The shape of every bucket of one map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refill {
    pub capacity: u64,
    pub refill_per_second: u64,
    pub cost: u64,
}

impl Refill {
    /// `count` events at once, regained at `count` per `period_seconds`.
    pub const fn per(count: u64, period_seconds: u64) -> Self {
        Self {
            capacity: count * period_seconds,
            refill_per_second: count,
            cost: period_seconds,
        }
    }

    /// What a bucket holds when full: at least one event.
    fn capacity(&self) -> u64 {
        self.capacity.max(self.cost)
    }

    /// What `bucket` holds at `now`, with what it regained since it was last refilled.
    fn available(&self, bucket: &Bucket, now: u64) -> u64 {
        let elapsed = now.saturating_sub(bucket.refilled_at);
        (bucket.available + elapsed.saturating_mul(self.refill_per_second)).min(self.capacity())
    }

    /// Whether `available` pays for one event; otherwise the whole seconds, at least one, until
    /// it will.
    fn ready(&self, available: u64) -> Result<(), u64> {
        match available >= self.cost {
            true => Ok(()),
            false => Err(self.wait(available)),
        }
    }

    fn wait(&self, available: u64) -> u64 {
        (self.cost - available.min(self.cost))
            .div_ceil(self.refill_per_second.max(1))
            .max(1)
    }
}

/// What a full map does with a key it does not track yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Let the event through untracked.
    Admit,
    /// Refuse the event, so that callers naming ever-new keys can neither grow the map nor
    /// reset the count of a key they target.
    Refuse,
}

/// Buckets by key, at most `max_tracked` of them. Full buckets carry no information and are
/// swept when the map reaches its bound; if it is still at its bound after that, a new key is
/// handled as `when_full` says.
pub(crate) struct Buckets<K> {
    refill: Refill,
    max_tracked: usize,
    when_full: WhenFull,
    map: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: u64,
    refilled_at: u64,
}

impl<K: Hash + Eq + Copy> Buckets<K> {
    pub fn new(refill: Refill, max_tracked: usize, when_full: WhenFull) -> Self {
        Self {
            refill,
            max_tracked,
            when_full,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one event from `key`'s bucket, or says how many seconds until it could.
    pub fn take(&self, key: K, now: u64) -> Result<(), u64> {
        let mut map = self.lock();
        if !map.contains_key(&key) && map.len() >= self.max_tracked {
            map.retain(|_, bucket| self.refill.available(bucket, now) < self.refill.capacity());
            if map.len() >= self.max_tracked {
                return match self.when_full {
                    WhenFull::Admit => Ok(()),
                    WhenFull::Refuse => Err(self.refill.wait(0)),
                };
            }
        }
        let bucket = map.entry(key).or_insert(Bucket {
            available: self.refill.capacity(),
            refilled_at: now,
        });
        let available = self.refill.available(bucket, now);
        *bucket = Bucket {
            available: available.checked_sub(self.refill.cost).unwrap_or(available),
            refilled_at: now,
        };
        self.refill.ready(available)
    }

    /// Whether `key`'s bucket holds one event, without taking it; otherwise the seconds until
    /// it will. A key with no bucket yet has a full one, and checking it tracks nothing, so
    /// callers that only ever pass (holders, on every token) never take room in the map.
    pub fn check(&self, key: K, now: u64) -> Result<(), u64> {
        match self.lock().get(&key) {
            Some(bucket) => self.refill.ready(self.refill.available(bucket, now)),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Bucket>> {
        // A poisoned lock only means another request panicked mid-update; the counts are still
        // integers, so go on with them.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::ports::{Random, SystemRandom};

    struct TestClock(AtomicU64);

    impl Clock for TestClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn tenant() -> TenantId {
        SystemRandom.uuid().to_string().parse().expect("tenant id")
    }

    #[test]
    fn a_tenant_gets_its_burst_then_its_rate_per_second() {
        let clock = Arc::new(TestClock(AtomicU64::new(1_000)));
        let limiter = RateLimiter::new(
            RateLimit {
                per_second: 2,
                burst: 3,
            },
            clock.clone(),
        );
        let (a, b) = (tenant(), tenant());
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
        assert_eq!(limiter.check(a), Err(Limited { retry_after: 1 }));
        assert_eq!(limiter.check(b), Ok(()), "tenants have separate buckets");
        clock.0.fetch_add(1, Ordering::SeqCst);
        assert_eq!((limiter.check(a), limiter.check(a)), (Ok(()), Ok(())));
        assert!(limiter.check(a).is_err(), "two per second");
        clock.0.fetch_add(60, Ordering::SeqCst);
        for _ in 0..3 {
            assert_eq!(
                limiter.check(a),
                Ok(()),
                "refills up to the burst, no further"
            );
        }
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn a_rate_of_zero_turns_limiting_off() {
        let clock = Arc::new(TestClock(AtomicU64::new(0)));
        let limiter = RateLimiter::new(RateLimit::OFF, clock);
        let t = tenant();
        assert!((0..10_000).all(|_| limiter.check(t).is_ok()));
    }

    #[test]
    fn a_full_map_admits_or_refuses_keys_it_cannot_track_as_told() {
        let per_minute = Refill::per(1, 60);
        for (when_full, expected) in [(WhenFull::Admit, Ok(())), (WhenFull::Refuse, Err(60))] {
            let buckets = Buckets::new(per_minute, 2, when_full);
            assert_eq!((buckets.take(1, 0), buckets.take(2, 0)), (Ok(()), Ok(())));
            assert_eq!(buckets.take(3, 0), expected, "{when_full:?}");
            assert_eq!(buckets.take(1, 0), Err(60), "a tracked key keeps its count");
            assert_eq!(
                buckets.take(3, 60),
                Ok(()),
                "full buckets are swept for new keys"
            );
        }
    }

    #[test]
    fn checking_keys_tracks_none_of_them() {
        let buckets = Buckets::new(Refill::per(1, 60), 1, WhenFull::Refuse);
        assert!((0..100).all(|key| buckets.check(key, 0).is_ok()));
        assert_eq!(buckets.take(100, 0), Ok(()), "the map still had room");
    }

    #[test]
    fn checking_a_bucket_takes_nothing_from_it() {
        let buckets = Buckets::new(Refill::per(2, 60), 10, WhenFull::Refuse);
        assert!((0..5).all(|_| buckets.check('a', 0).is_ok()));
        assert_eq!(
            (buckets.take('a', 0), buckets.take('a', 0)),
            (Ok(()), Ok(()))
        );
        assert_eq!(
            buckets.check('a', 0),
            Err(30),
            "one of two a minute is back in 30 s"
        );
        assert_eq!(buckets.check('a', 30), Ok(()));
    }
}
