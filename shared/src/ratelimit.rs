//! Per-tenant rate limiting of the OAuth endpoints that take credentials, as App ID promises:
//! over the rate, `429` with `Retry-After`.
//!
//! Each tenant has a token bucket holding up to `burst` requests and refilled at `per_second`.
//! The buckets live in the process, so the limit holds per `appid-local` process and per Lambda
//! container; on AWS, API Gateway's route throttling (set to the same figures by the template)
//! bounds the whole deployment. The check runs before the body is read or the store is asked,
//! so a flood costs neither.

use std::collections::HashMap;
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
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: u64,
    refilled_at: u64,
}

/// A request over the limit; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            clock,
            buckets: Mutex::new(HashMap::new()),
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
        let now = self.clock.now();
        let (rate, burst) = (
            u64::from(self.limit.per_second),
            u64::from(self.limit.burst.max(1)),
        );
        // A poisoned lock only means another request panicked mid-update; the counts are still
        // integers, so go on with them.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| now.saturating_sub(b.refilled_at) * rate < burst);
        }
        let bucket = buckets.entry(tenant).or_insert(Bucket {
            available: burst,
            refilled_at: now,
        });
        let elapsed = now.saturating_sub(bucket.refilled_at);
        if elapsed > 0 {
            bucket.available = (bucket.available + elapsed.saturating_mul(rate)).min(burst);
            bucket.refilled_at = now;
        }
        if bucket.available == 0 {
            return Err(Limited { retry_after: 1 });
        }
        bucket.available -= 1;
        Ok(())
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
}
