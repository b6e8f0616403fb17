//! Types that hold the invariants of the domain. Every value is parsed at the edge of the
//! service, so nothing past the HTTP mapping re-checks a string.

mod ids;
mod keys;
mod names;
mod records;
mod scopes;
mod secret;
mod url;

pub use ids::{ClientId, InvalidId, RoleId, TenantId};
pub use keys::{
    Algorithm, Custody, KEY_PUBLICATION_LEAD_SECONDS, KEY_RETIREMENT_SECONDS, KeySet, KeySetError,
    KeyState, MAX_RETIRING_KEYS, SigningKey, UnsupportedAlgorithm,
};
pub use names::{InvalidName, Name};
pub use records::{
    Access, App, Description, InvalidDescription, Role, SecretEntry, Tenant, Version,
};
pub use scopes::{InvalidScope, Scope};
pub use secret::{ClientSecret, PresentedSecret, SecretDigest};
pub use url::{BaseUrl, InvalidBaseUrl};

/// The lifetime of issued access tokens, in seconds: App ID's range of 5 minutes to 1 day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTtl(u32);

impl Default for TokenTtl {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TokenTtl {
    pub const MIN: u32 = 300;
    pub const MAX: u32 = 86_400;
    pub const DEFAULT: Self = Self(3_600);

    pub fn new(seconds: u32) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&seconds)
            .then_some(Self(seconds))
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}
