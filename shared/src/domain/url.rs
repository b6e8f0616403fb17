use std::fmt;

use super::TenantId;

/// Where callers reach the server: scheme, host and optional port and path prefix, with no
/// trailing slash. Issuer and endpoint URLs are built on it.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBaseUrl {
    #[error("must start with http:// or https://")]
    Scheme,
    #[error("must name a host")]
    NoHost,
    #[error("must not carry a query, a fragment, whitespace or a trailing slash")]
    Shape,
}

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidBaseUrl> {
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))
            .ok_or(InvalidBaseUrl::Scheme)?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(InvalidBaseUrl::NoHost);
        }
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#');
        if raw.ends_with('/') || raw.chars().any(bad_char) {
            return Err(InvalidBaseUrl::Shape);
        }
        Ok(Self(raw.to_owned()))
    }

    /// App ID's `oAuthServerUrl` of a tenant, which is also the `iss` of its tokens.
    pub fn oauth_server_url(&self, tenant: &TenantId) -> String {
        format!("{}/oauth/v4/{tenant}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_origins_with_optional_prefix() {
        for ok in [
            "http://127.0.0.1:8080",
            "https://auth.example.com",
            "https://h.example/prefix",
        ] {
            assert_eq!(BaseUrl::parse(ok).map(|u| u.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn refuses_what_would_make_a_wrong_issuer() {
        assert_eq!(BaseUrl::parse("ftp://x"), Err(InvalidBaseUrl::Scheme));
        assert_eq!(
            BaseUrl::parse("auth.example.com"),
            Err(InvalidBaseUrl::Scheme)
        );
        assert_eq!(BaseUrl::parse("https://"), Err(InvalidBaseUrl::NoHost));
        assert_eq!(
            BaseUrl::parse("https://a.example/"),
            Err(InvalidBaseUrl::Shape)
        );
        assert_eq!(
            BaseUrl::parse("https://a.example?x=1"),
            Err(InvalidBaseUrl::Shape)
        );
        assert_eq!(BaseUrl::parse("https://a b"), Err(InvalidBaseUrl::Shape));
    }
}
