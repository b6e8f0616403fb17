//! Configuration of the Lambda functions, read from the environment once at start into typed
//! values. Every error names the variable at fault. An empty variable counts as unset, since
//! CloudFormation cannot omit a variable conditionally.

use crate::domain::{Algorithm, BaseUrl, TokenTtl};
use crate::guessing::DEFAULT_FAILURES_PER_MINUTE;
use crate::http::AdminAuth;
use crate::ratelimit::RateLimit;
use crate::service::TenantDefaults;

pub const TABLE_NAME: &str = "APPID_TABLE_NAME";
pub const PUBLIC_URL: &str = "APPID_PUBLIC_URL";
pub const TOKEN_TTL_SECONDS: &str = "APPID_TOKEN_TTL_SECONDS";
pub const KMS_MODE: &str = "APPID_KMS_MODE";
pub const KMS_KEY_ID: &str = "APPID_KMS_KEY_ID";
pub const DEPLOYMENT: &str = "APPID_DEPLOYMENT";
pub const SIGNING_ALGORITHM: &str = "APPID_SIGNING_ALGORITHM";
pub const KEY_PUBLICATION_LEAD_SECONDS: &str = "APPID_KEY_PUBLICATION_LEAD_SECONDS";

/// The range an operator may set the key publication lead in: up to a week.
pub const KEY_LEAD_RANGE: std::ops::RangeInclusive<u64> = 0..=7 * 86_400;
pub const ADMIN_AUTH: &str = "APPID_ADMIN_AUTH";
pub const ADMIN_TOKEN: &str = "APPID_ADMIN_TOKEN";
pub const MAX_BODY_BYTES: &str = "APPID_MAX_BODY_BYTES";
pub const TENANT_RATE_LIMIT: &str = "APPID_TENANT_RATE_LIMIT";
pub const TENANT_BURST_LIMIT: &str = "APPID_TENANT_BURST_LIMIT";
pub const AUTH_FAILURES_PER_MINUTE: &str = "APPID_AUTH_FAILURES_PER_MINUTE";

/// The range an operator may set the request body limit in.
pub const BODY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// How tenants' private keys are held in KMS (`APPID_KMS_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsMode {
    /// `direct`: one asymmetric KMS key per tenant key, tagged with the deployment name
    /// (`APPID_DEPLOYMENT`); every token is a KMS `Sign` call.
    Direct { deployment: String },
    /// `wrapped` (the default): private keys encrypted under this symmetric KMS key
    /// (`APPID_KMS_KEY_ID`, an id, ARN or alias), decrypted once per process.
    Wrapped { wrapping_key: String },
}

/// The management function: registers tenants and apps and makes their signing keys.
#[derive(Debug)]
pub struct ManagementConfig {
    pub table_name: String,
    pub public_url: Option<BaseUrl>,
    pub admin: AdminAuth,
    pub kms: KmsMode,
    /// The token lifetime and signing algorithm new tenants start with.
    pub defaults: TenantDefaults,
    pub max_body_bytes: usize,
}

/// The token function: issues tokens and publishes the keys that verify them.
#[derive(Debug)]
pub struct TokenConfig {
    pub table_name: String,
    pub public_url: Option<BaseUrl>,
    pub kms: KmsMode,
    pub max_body_bytes: usize,
    pub rate_limit: RateLimit,
    /// Failed authentications a client id and a source address may each have a minute.
    pub auth_failures_per_minute: u32,
}

/// The rotation function: rotates every tenant's keys on a schedule.
#[derive(Debug)]
pub struct RotationConfig {
    pub table_name: String,
    pub kms: KmsMode,
    /// Its algorithm makes no difference here; its publication lead decides which tenants are
    /// ready.
    pub defaults: TenantDefaults,
}

impl RotationConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(lookup, TABLE_NAME)?,
            kms: kms_mode(lookup)?,
            defaults: tenant_defaults(lookup)?,
        })
    }
}

impl ManagementConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(lookup, TABLE_NAME)?,
            public_url: public_url(lookup)?,
            admin: admin_auth(lookup)?,
            kms: kms_mode(lookup)?,
            defaults: tenant_defaults(lookup)?,
            max_body_bytes: max_body_bytes(lookup)?,
        })
    }
}

impl TokenConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(lookup, TABLE_NAME)?,
            public_url: public_url(lookup)?,
            kms: kms_mode(lookup)?,
            max_body_bytes: max_body_bytes(lookup)?,
            rate_limit: rate_limit(lookup)?,
            auth_failures_per_minute: auth_failures_per_minute(lookup)?,
        })
    }
}

/// `APPID_PUBLIC_URL`: where callers reach the server, when it cannot be told from the request
/// (a custom domain in front of API Gateway, or a local emulator).
pub fn public_url(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<BaseUrl>, ConfigError> {
    optional(lookup, PUBLIC_URL)
        .map(|raw| BaseUrl::parse(&raw).map_err(|e| invalid(PUBLIC_URL, e.to_string())))
        .transpose()
}

/// `APPID_TOKEN_TTL_SECONDS`, 300 to 86400, default 3600: the token lifetime of new tenants,
/// which each tenant can then change.
pub fn token_ttl(lookup: &dyn Fn(&str) -> Option<String>) -> Result<TokenTtl, ConfigError> {
    let Some(raw) = optional(lookup, TOKEN_TTL_SECONDS) else {
        return Ok(TokenTtl::DEFAULT);
    };
    raw.parse().ok().and_then(TokenTtl::new).ok_or_else(|| {
        let reason = format!(
            "expected whole seconds from {} to {}",
            TokenTtl::MIN,
            TokenTtl::MAX
        );
        invalid(TOKEN_TTL_SECONDS, reason)
    })
}

/// What new tenants start with and how their keys rotate.
pub fn tenant_defaults(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<TenantDefaults, ConfigError> {
    Ok(TenantDefaults {
        token_ttl: token_ttl(lookup)?,
        algorithm: signing_algorithm(lookup)?,
        key_publication_lead: key_publication_lead(lookup)?,
    })
}

/// `APPID_KMS_MODE` (`wrapped`, the default, or `direct`) with the variable that mode needs.
pub fn kms_mode(lookup: &dyn Fn(&str) -> Option<String>) -> Result<KmsMode, ConfigError> {
    match optional(lookup, KMS_MODE).as_deref() {
        None | Some("wrapped") => Ok(KmsMode::Wrapped {
            wrapping_key: required(lookup, KMS_KEY_ID)?,
        }),
        Some("direct") => Ok(KmsMode::Direct {
            deployment: required(lookup, DEPLOYMENT)?,
        }),
        Some(_) => Err(invalid(KMS_MODE, "expected wrapped or direct".into())),
    }
}

/// `APPID_SIGNING_ALGORITHM`, `RS256` (the default) or `ES256`: what new tenants sign with.
pub fn signing_algorithm(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Algorithm, ConfigError> {
    optional(lookup, SIGNING_ALGORITHM)
        .map(|raw| {
            raw.parse()
                .map_err(|e: crate::domain::UnsupportedAlgorithm| {
                    invalid(SIGNING_ALGORITHM, e.to_string())
                })
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

/// `APPID_KEY_PUBLICATION_LEAD_SECONDS`, 0 to 604800, default 3600: how long a tenant's next
/// key is published before a rotation may make it sign. It should exceed the longest time any
/// verifier keeps a copy of the key set.
pub fn key_publication_lead(lookup: &dyn Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
    let Some(raw) = optional(lookup, KEY_PUBLICATION_LEAD_SECONDS) else {
        return Ok(crate::domain::KEY_PUBLICATION_LEAD_SECONDS);
    };
    raw.parse()
        .ok()
        .filter(|n| KEY_LEAD_RANGE.contains(n))
        .ok_or_else(|| {
            let max = KEY_LEAD_RANGE.end();
            invalid(
                KEY_PUBLICATION_LEAD_SECONDS,
                format!("expected whole seconds from 0 to {max}"),
            )
        })
}

/// `APPID_MAX_BODY_BYTES`, 1 KiB to 1 MiB, default 16 KiB: larger request bodies get `413`.
pub fn max_body_bytes(lookup: &dyn Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    let Some(raw) = optional(lookup, MAX_BODY_BYTES) else {
        return Ok(crate::http::DEFAULT_MAX_BODY_BYTES);
    };
    raw.parse()
        .ok()
        .filter(|n| BODY_LIMIT_RANGE.contains(n))
        .ok_or_else(|| {
            let (min, max) = (BODY_LIMIT_RANGE.start(), BODY_LIMIT_RANGE.end());
            invalid(
                MAX_BODY_BYTES,
                format!("expected a number of bytes from {min} to {max}"),
            )
        })
}

/// `APPID_TENANT_RATE_LIMIT` (requests per second per tenant to the token, introspection and
/// revocation endpoints, default 200, 0 for none) and `APPID_TENANT_BURST_LIMIT` (default twice
/// the rate).
pub fn rate_limit(lookup: &dyn Fn(&str) -> Option<String>) -> Result<RateLimit, ConfigError> {
    let number = |var: &'static str| -> Result<Option<u32>, ConfigError> {
        optional(lookup, var)
            .map(|raw| {
                raw.parse()
                    .map_err(|_| invalid(var, "expected a whole number".into()))
            })
            .transpose()
    };
    let per_second = number(TENANT_RATE_LIMIT)?.unwrap_or(RateLimit::DEFAULT.per_second);
    let burst = number(TENANT_BURST_LIMIT)?.unwrap_or(per_second.saturating_mul(2));
    if per_second > 0 && burst == 0 {
        return Err(invalid(
            TENANT_BURST_LIMIT,
            "must be at least 1 while a rate is set".into(),
        ));
    }
    Ok(RateLimit { per_second, burst })
}

/// `APPID_AUTH_FAILURES_PER_MINUTE`: failed client authentications a client id and a source
/// address may each have at once and regain a minute, default 10, 0 for no limit.
pub fn auth_failures_per_minute(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<u32, ConfigError> {
    optional(lookup, AUTH_FAILURES_PER_MINUTE)
        .map(|raw| {
            raw.parse()
                .map_err(|_| invalid(AUTH_FAILURES_PER_MINUTE, "expected a whole number".into()))
        })
        .transpose()
        .map(|n| n.unwrap_or(DEFAULT_FAILURES_PER_MINUTE))
}

/// `APPID_ADMIN_AUTH=iam` trusts API Gateway's IAM authorizer; otherwise (or with `token`)
/// `APPID_ADMIN_TOKEN` must hold the bearer token callers present.
pub fn admin_auth(lookup: &dyn Fn(&str) -> Option<String>) -> Result<AdminAuth, ConfigError> {
    match optional(lookup, ADMIN_AUTH).as_deref() {
        Some("iam") => Ok(AdminAuth::Iam),
        None | Some("token") => {
            let token = required(lookup, ADMIN_TOKEN)?;
            AdminAuth::token(&token).map_err(|e| invalid(ADMIN_TOKEN, e.to_string()))
        }
        Some(_) => Err(invalid(ADMIN_AUTH, "expected iam or token".into())),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn optional(lookup: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<String> {
    lookup(var).filter(|value| !value.is_empty())
}

fn required(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, var).ok_or(ConfigError::Missing(var))
}

fn invalid(var: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { var, reason }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn token_config_names_the_missing_variable() {
        let error = TokenConfig::from_lookup(&lookup(&[(TABLE_NAME, "t")])).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("APPID_KMS_KEY_ID must be set".into())
        );
    }

    #[test]
    fn the_kms_mode_names_the_variable_it_needs() {
        let wrapped = kms_mode(&lookup(&[(KMS_KEY_ID, "alias/wrap")])).ok();
        assert_eq!(
            wrapped,
            Some(KmsMode::Wrapped {
                wrapping_key: "alias/wrap".into()
            })
        );
        let direct = kms_mode(&lookup(&[(KMS_MODE, "direct")])).err();
        assert_eq!(
            direct.map(|e| e.to_string()),
            Some("APPID_DEPLOYMENT must be set".into())
        );
        let direct = kms_mode(&lookup(&[(KMS_MODE, "direct"), (DEPLOYMENT, "prod")])).ok();
        assert_eq!(
            direct,
            Some(KmsMode::Direct {
                deployment: "prod".into()
            })
        );
        let bad = kms_mode(&lookup(&[(KMS_MODE, "hsm")])).err();
        assert!(matches!(
            bad,
            Some(ConfigError::Invalid { var: KMS_MODE, .. })
        ));
    }

    #[test]
    fn the_key_publication_lead_defaults_to_an_hour_and_is_bounded() {
        assert_eq!(key_publication_lead(&lookup(&[])).ok(), Some(3_600));
        let none = key_publication_lead(&lookup(&[(KEY_PUBLICATION_LEAD_SECONDS, "0")])).ok();
        assert_eq!(none, Some(0));
        for bad in ["-1", "604801", "soon"] {
            let error = key_publication_lead(&lookup(&[(KEY_PUBLICATION_LEAD_SECONDS, bad)]));
            assert!(matches!(
                error,
                Err(ConfigError::Invalid {
                    var: KEY_PUBLICATION_LEAD_SECONDS,
                    ..
                })
            ));
        }
    }

    #[test]
    fn the_signing_algorithm_defaults_to_rs256() {
        assert_eq!(signing_algorithm(&lookup(&[])).ok(), Some(Algorithm::Rs256));
        let es = signing_algorithm(&lookup(&[(SIGNING_ALGORITHM, "ES256")])).ok();
        assert_eq!(es, Some(Algorithm::Es256));
        let bad = signing_algorithm(&lookup(&[(SIGNING_ALGORITHM, "HS256")])).err();
        assert!(matches!(
            bad,
            Some(ConfigError::Invalid {
                var: SIGNING_ALGORITHM,
                ..
            })
        ));
    }

    #[test]
    fn empty_variables_count_as_unset_and_defaults_apply() {
        let vars = [
            (TABLE_NAME, "t"),
            (KMS_KEY_ID, "k"),
            (PUBLIC_URL, ""),
            (TOKEN_TTL_SECONDS, ""),
        ];
        let config = TokenConfig::from_lookup(&lookup(&vars)).expect("valid");
        assert_eq!(config.public_url, None);
        assert_eq!(
            token_ttl(&lookup(&vars)).expect("default"),
            TokenTtl::DEFAULT
        );
    }

    #[test]
    fn token_ttl_outside_app_ids_range_is_refused() {
        for bad in ["299", "86401", "ten", "-1"] {
            let error = token_ttl(&lookup(&[(TOKEN_TTL_SECONDS, bad)])).err();
            assert!(matches!(
                error,
                Some(ConfigError::Invalid {
                    var: TOKEN_TTL_SECONDS,
                    ..
                })
            ));
        }
        let ttl = token_ttl(&lookup(&[(TOKEN_TTL_SECONDS, "86400")])).expect("valid");
        assert_eq!(ttl.seconds(), 86_400);
    }

    #[test]
    fn the_tenant_rate_defaults_on_and_can_be_turned_off() {
        assert_eq!(auth_failures_per_minute(&lookup(&[])).ok(), Some(10));
        let off = auth_failures_per_minute(&lookup(&[(AUTH_FAILURES_PER_MINUTE, "0")]));
        assert_eq!(off.ok(), Some(0));
        let bad = auth_failures_per_minute(&lookup(&[(AUTH_FAILURES_PER_MINUTE, "-1")])).err();
        assert!(
            matches!(
                bad,
                Some(ConfigError::Invalid {
                    var: AUTH_FAILURES_PER_MINUTE,
                    ..
                })
            ),
            "{bad:?}"
        );
        assert_eq!(rate_limit(&lookup(&[])).ok(), Some(RateLimit::DEFAULT));
        let custom = rate_limit(&lookup(&[(TENANT_RATE_LIMIT, "50")])).ok();
        assert_eq!(
            custom,
            Some(RateLimit {
                per_second: 50,
                burst: 100
            })
        );
        let off = rate_limit(&lookup(&[(TENANT_RATE_LIMIT, "0")])).ok();
        assert_eq!(off.map(|l| l.per_second), Some(0));
        let bad = rate_limit(&lookup(&[(TENANT_RATE_LIMIT, "fast")])).err();
        assert!(matches!(
            bad,
            Some(ConfigError::Invalid {
                var: TENANT_RATE_LIMIT,
                ..
            })
        ));
        let no_burst = rate_limit(&lookup(&[(TENANT_BURST_LIMIT, "0")])).err();
        assert!(matches!(
            no_burst,
            Some(ConfigError::Invalid {
                var: TENANT_BURST_LIMIT,
                ..
            })
        ));
    }

    #[test]
    fn the_body_limit_is_configurable_within_bounds() {
        assert_eq!(max_body_bytes(&lookup(&[])).ok(), Some(16 * 1024));
        assert_eq!(
            max_body_bytes(&lookup(&[(MAX_BODY_BYTES, "65536")])).ok(),
            Some(65_536)
        );
        for bad in ["1023", "1048577", "lots"] {
            let error = max_body_bytes(&lookup(&[(MAX_BODY_BYTES, bad)])).err();
            assert!(matches!(
                error,
                Some(ConfigError::Invalid {
                    var: MAX_BODY_BYTES,
                    ..
                })
            ));
        }
    }

    #[test]
    fn management_refuses_to_start_without_an_admin_credential() {
        let missing = admin_auth(&lookup(&[])).err().map(|e| e.to_string());
        assert_eq!(missing, Some("APPID_ADMIN_TOKEN must be set".into()));
        let weak = admin_auth(&lookup(&[(ADMIN_TOKEN, "changeme")])).err();
        assert!(matches!(
            weak,
            Some(ConfigError::Invalid {
                var: ADMIN_TOKEN,
                ..
            })
        ));
        assert!(matches!(
            admin_auth(&lookup(&[(ADMIN_AUTH, "iam")])),
            Ok(AdminAuth::Iam)
        ));
        let bad_mode = admin_auth(&lookup(&[(ADMIN_AUTH, "none")])).err();
        assert!(matches!(
            bad_mode,
            Some(ConfigError::Invalid {
                var: ADMIN_AUTH,
                ..
            })
        ));
    }
}
