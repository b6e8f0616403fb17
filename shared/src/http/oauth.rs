//! `/oauth/v4/{tenantId}/...`: the token endpoint (RFC 6749 §4.4), introspection (RFC 7662),
//! revocation (RFC 7009), the tenant's public keys and its metadata (RFC 8414).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde::Serialize;

use super::Outcome;
use super::errors::ApiError;
use super::request::{check_body, only, strip_scheme};
use super::response::{empty, json, json_body};
use crate::domain::{BaseUrl, ClientId, PresentedSecret, Scope, TenantId};
use crate::guessing::{Attempt, GuessingGuard, SourceAddr};
use crate::jwt::VerifiedClaims;
use crate::ratelimit::RateLimiter;
use crate::service::{RevokeError, TokenError, TokenIssuer, TokenRequest};

const FORM: &str = "application/x-www-form-urlencoded";
const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// A token, introspection or revocation request needs a handful of parameters; one with more
/// than this is refused rather than scanned.
const MAX_FORM_PARAMETERS: usize = 32;

/// Verifiers may cache the key set (and the metadata naming it) this long, so a new signing key
/// must be published at least this long before it signs anything.
const PUBLIC_KEYS_CACHE: HeaderValue = HeaderValue::from_static("public, max-age=300");

/// Token request parameters that must appear at most once (RFC 6749 §3.2); others are ignored
/// as §3.2 requires of unrecognized parameters.
const SINGLE_PARAMETERS: [&str; 8] = [
    "grant_type",
    "scope",
    "audience",
    "resource",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

const NO_CREDENTIALS: &str =
    "client authentication is required: HTTP Basic, or client_id and client_secret in the body";
const TWO_METHODS: &str = "use one client authentication method, not HTTP Basic and client_secret";
const TWO_CLIENTS: &str = "client_id in the body differs from the HTTP Basic client";
const MALFORMED_CREDENTIALS: &str = "the Authorization header is not valid HTTP Basic credentials";
const AUTHENTICATION_FAILED: &str = "client authentication failed";
const UNKNOWN_AUDIENCE: &str = "the audience must be the client id of an application of this tenant (resource: urn:uuid:<client id>)";
const NOT_YOURS: &str = "a client may revoke only the tokens issued to it";
const ONE_AUDIENCE: &str = "a token serves one audience: name at most one application";

/// The limits the endpoints that take client credentials apply before they spend anything on a
/// request.
#[derive(Default, Clone, Copy)]
pub(super) struct Limits<'a> {
    pub rate: Option<&'a RateLimiter>,
    pub guessing: Option<&'a GuessingGuard>,
}

pub(super) async fn handle(
    issuer: &TokenIssuer,
    limits: Limits<'_>,
    tenant: &str,
    endpoint: &[&str],
    request: &Request<Bytes>,
    origin: &BaseUrl,
    outcome: &mut Outcome,
) -> Result<Response<Bytes>, ApiError> {
    match endpoint {
        ["token"] => {
            outcome.route = Some("token");
            outcome.action = Some("token.issue");
            only(request, &Method::POST, "POST")?;
            let tenant_id = parse_tenant(tenant, outcome)?;
            within_rate(limits.rate, tenant_id)?;
            token(issuer, limits.guessing, tenant_id, request, origin, outcome).await
        }
        [operation @ ("introspect" | "revoke")] => {
            let revoke = *operation == "revoke";
            outcome.route = Some(if revoke { "revoke" } else { "introspect" });
            outcome.action = Some(if revoke {
                "token.revoke"
            } else {
                "token.introspect"
            });
            only(request, &Method::POST, "POST")?;
            let tenant_id = parse_tenant(tenant, outcome)?;
            within_rate(limits.rate, tenant_id)?;
            let guard = limits.guessing;
            token_operation(issuer, guard, tenant_id, request, origin, outcome, revoke).await
        }
        ["publickeys"] => {
            outcome.route = Some("publickeys");
            only(request, &Method::GET, "GET")?;
            let tenant_id = parse_tenant(tenant, outcome)?;
            let keys = issuer
                .published_keys(tenant_id)
                .await?
                .ok_or(ApiError::TenantNotFound)?;
            Ok(cacheable(&keys.jwks))
        }
        [
            ".well-known",
            "openid-configuration" | "oauth-authorization-server",
        ] => {
            outcome.route = Some("metadata");
            only(request, &Method::GET, "GET")?;
            let tenant_id = parse_tenant(tenant, outcome)?;
            if !issuer.knows_tenant(tenant_id).await? {
                return Err(ApiError::TenantNotFound);
            }
            Ok(cacheable(&Metadata::new(origin, tenant_id)))
        }
        _ => Err(ApiError::NotFound),
    }
}

/// A `200` that verifiers may cache: the public keys and the metadata naming them.
fn cacheable<T: Serialize>(body: &T) -> Response<Bytes> {
    let mut response = json(StatusCode::OK, body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, PUBLIC_KEYS_CACHE);
    response.headers_mut().remove(PRAGMA);
    response
}

/// Authorization server metadata (RFC 8414 §2), also served as OpenID Connect discovery so that
/// OIDC-minded tooling (API Gateway's JWT authorizer among it) configures itself. The members
/// OIDC requires of every provider are given for that reason, though no ID token is issued.
#[derive(Serialize)]
struct Metadata {
    issuer: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    jwks_uri: String,
    grant_types_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    response_types_supported: [&'static str; 0],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 2],
}

impl Metadata {
    fn new(origin: &BaseUrl, tenant: TenantId) -> Self {
        let issuer = origin.oauth_server_url(&tenant);
        Self {
            token_endpoint: format!("{issuer}/token"),
            introspection_endpoint: format!("{issuer}/introspect"),
            revocation_endpoint: format!("{issuer}/revoke"),
            jwks_uri: format!("{issuer}/publickeys"),
            issuer,
            grant_types_supported: [GRANT_CLIENT_CREDENTIALS],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            response_types_supported: [],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["RS256", "ES256"],
        }
    }
}

/// Counts the request against the tenant's rate, before anything else is spent on it.
fn within_rate(limiter: Option<&RateLimiter>, tenant_id: TenantId) -> Result<(), ApiError> {
    match limiter.map(|l| l.check(tenant_id)) {
        Some(Err(limited)) => Err(ApiError::TooManyRequests(limited.retry_after)),
        _ => Ok(()),
    }
}

/// A path segment that cannot be a tenant id names nothing that could exist.
fn parse_tenant(segment: &str, outcome: &mut Outcome) -> Result<TenantId, ApiError> {
    let tenant_id = segment.parse().map_err(|_| ApiError::TenantNotFound)?;
    outcome.tenant_id = Some(tenant_id);
    Ok(tenant_id)
}

/// The request is checked in full before the client is looked up, so malformed requests cost
/// no store read.
async fn token(
    issuer: &TokenIssuer,
    guard: Option<&GuessingGuard>,
    tenant_id: TenantId,
    request: &Request<Bytes>,
    origin: &BaseUrl,
    outcome: &mut Outcome,
) -> Result<Response<Bytes>, ApiError> {
    let form = read_form(request)?;
    form.check_grant_type()?;
    let asked = form.token_request()?;
    let (client_id, secret) = client_credentials(request, form)?;
    outcome.client_id = client_id;
    let attempt = attempt(request, tenant_id, client_id, &secret);
    let issued = guarded(guard, &attempt, async |client_id| {
        issuer
            .issue(tenant_id, client_id, &secret, &asked, origin)
            .await
    })
    .await?;
    outcome.jti = Some(issued.jti);
    // The scope is named when it differs from the scope requested (RFC 6749 §5.1).
    let scope = issued.scope.as_deref().filter(|_| issued.scope_differs);
    Ok(json_body(
        StatusCode::OK,
        token_response(&issued.access_token, issued.expires_in, scope),
    ))
}

/// The body of a token response (RFC 6749 §5.1), written out rather than serialized: its
/// strings are a JWS compact serialization (base64url and `.`) and scope names (lowercase
/// letters, digits, `.` and `_`), in which JSON escapes nothing, and scanning the token for
/// characters to escape would be a measurable part of the token path.
fn token_response(access_token: &str, expires_in: u32, scope: Option<&str>) -> Vec<u8> {
    debug_assert!(
        std::iter::once(access_token)
            .chain(scope)
            .all(|s| !s.contains(|c: char| c == '"' || c == '\\' || c.is_control())),
        "token response strings need no escaping"
    );
    let mut body = Vec::with_capacity(access_token.len() + 128);
    body.extend_from_slice(br#"{"access_token":""#);
    body.extend_from_slice(access_token.as_bytes());
    body.extend_from_slice(br#"","expires_in":"#);
    body.extend_from_slice(expires_in.to_string().as_bytes());
    body.extend_from_slice(br#","token_type":"Bearer""#);
    if let Some(scope) = scope {
        body.extend_from_slice(br#","scope":""#);
        body.extend_from_slice(scope.as_bytes());
        body.push(b'"');
    }
    body.push(b'}');
    body
}

/// Introspection (RFC 7662) and revocation (RFC 7009): both take a `token` and the client's
/// credentials, by either method the token endpoint accepts.
async fn token_operation(
    issuer: &TokenIssuer,
    guard: Option<&GuessingGuard>,
    tenant_id: TenantId,
    request: &Request<Bytes>,
    origin: &BaseUrl,
    outcome: &mut Outcome,
    revoke: bool,
) -> Result<Response<Bytes>, ApiError> {
    let mut form = read_form(request)?;
    let token = form.token.take().filter(|t| !t.is_empty());
    let token = token.ok_or_else(|| ApiError::InvalidRequest("token is required".into()))?;
    let (client_id, secret) = client_credentials(request, form)?;
    outcome.client_id = client_id;
    let attempt = attempt(request, tenant_id, client_id, &secret);
    let client_id = guarded(guard, &attempt, async |client_id| {
        issuer.authenticate(tenant_id, client_id, &secret).await?;
        Ok(client_id)
    })
    .await?;
    if revoke {
        issuer
            .revoke(tenant_id, client_id, &token, origin)
            .await
            .map_err(|e| match e {
                RevokeError::NotYours => ApiError::UnauthorizedClient(NOT_YOURS),
                RevokeError::Store(e) => e.into(),
            })?;
        return Ok(empty(StatusCode::OK));
    }
    let claims = issuer.introspect(tenant_id, &token, origin).await?;
    outcome.jti = claims.as_ref().map(|c| c.jti);
    let body = Introspection {
        active: claims.is_some(),
        token_type: claims.as_ref().map(|_| "Bearer"),
        claims,
    };
    Ok(json(StatusCode::OK, &body))
}

/// Who is authenticating with what, and from where the entry point says the request came.
fn attempt<'a>(
    request: &Request<Bytes>,
    tenant: TenantId,
    client: Option<ClientId>,
    secret: &'a PresentedSecret,
) -> Attempt<'a> {
    Attempt {
        tenant,
        client,
        source: request.extensions().get::<SourceAddr>().copied(),
        secret,
    }
}

/// Runs `authenticate` (which authenticates the client and goes on with the request) under the
/// guessing guard: refused unheard while the attempt's budgets are spent, a failed
/// authentication charged to them, a success remembered. A client id that is not one fails
/// like an unknown client, with no store read.
async fn guarded<T>(
    guard: Option<&GuessingGuard>,
    attempt: &Attempt<'_>,
    authenticate: impl AsyncFnOnce(ClientId) -> Result<T, TokenError>,
) -> Result<T, ApiError> {
    if let Some(guard) = guard {
        guard
            .admit(attempt)
            .map_err(|slowed| ApiError::TooManyFailures(slowed.retry_after))?;
    }
    let result = match attempt.client {
        Some(client_id) => authenticate(client_id).await,
        None => Err(TokenError::InvalidClient),
    };
    if let Some(guard) = guard {
        match &result {
            Err(TokenError::InvalidClient) => guard.failed(attempt),
            Ok(_) | Err(TokenError::InvalidScope(_) | TokenError::InvalidTarget) => {
                guard.succeeded(attempt)
            }
            Err(TokenError::Store(_) | TokenError::Sign(_)) => {}
        }
    }
    result.map_err(token_error)
}

/// RFC 7662 §2.2: `{"active": false}`, or the token's claims with `active: true`.
#[derive(Serialize)]
struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    claims: Option<VerifiedClaims>,
}

/// A form-encoded body, parsed; any other media type is `invalid_request` (RFC 6749 §4.4.2).
fn read_form(request: &Request<Bytes>) -> Result<TokenForm, ApiError> {
    check_body(request, FORM).map_err(|error| match error {
        ApiError::UnsupportedMediaType(_) => {
            ApiError::InvalidRequest(format!("Content-Type must be {FORM}").into())
        }
        other => other,
    })?;
    TokenForm::parse(request.body())
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::InvalidClient => ApiError::InvalidClient(AUTHENTICATION_FAILED),
        TokenError::InvalidScope(_) => ApiError::InvalidScope(error.to_string()),
        TokenError::InvalidTarget => ApiError::InvalidTarget(UNKNOWN_AUDIENCE.into()),
        TokenError::Store(e) => e.into(),
        TokenError::Sign(e) => e.into(),
    }
}

/// The parameters of a token request (RFC 6749 §4.4.2, §2.3.1). Each may appear once
/// (RFC 6749 §3.2); parameters this server does not know are ignored, as §3.2 requires.
#[derive(Default)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    /// The token to introspect or revoke.
    token: Option<String>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut form = Self::default();
        let mut seen = [false; SINGLE_PARAMETERS.len()];
        for (count, (name, value)) in form_urlencoded::parse(body).enumerate() {
            if count == MAX_FORM_PARAMETERS {
                let why = format!("a request may carry at most {MAX_FORM_PARAMETERS} parameters");
                return Err(ApiError::InvalidRequest(why.into()));
            }
            let Some(index) = SINGLE_PARAMETERS.iter().position(|p| *p == name) else {
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                // RFC 8707 allows several resources; a token here serves one audience.
                if name == "resource" {
                    return Err(ApiError::InvalidTarget(ONE_AUDIENCE.into()));
                }
                let why = format!(
                    "parameter {} must not be repeated",
                    SINGLE_PARAMETERS[index]
                );
                return Err(ApiError::InvalidRequest(why.into()));
            }
            let slot = match SINGLE_PARAMETERS[index] {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "scope" => &mut form.scope,
                "audience" => &mut form.audience,
                "resource" => &mut form.resource,
                "token" => &mut form.token,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        Ok(form)
    }

    /// What the request asks for: the audience from `audience` (a client id, as App ID takes it)
    /// or `resource` (RFC 8707: the URI `urn:uuid:<client id>`), and the scopes of `scope`.
    fn token_request(&self) -> Result<TokenRequest, ApiError> {
        let unknown = || ApiError::InvalidTarget(UNKNOWN_AUDIENCE.into());
        let from_audience = self
            .audience
            .as_deref()
            .map(|raw| raw.parse::<ClientId>().map_err(|_| unknown()))
            .transpose()?;
        let from_resource = self
            .resource
            .as_deref()
            .map(|raw| {
                raw.strip_prefix("urn:uuid:")
                    .and_then(|id| id.parse::<ClientId>().ok())
                    .ok_or_else(unknown)
            })
            .transpose()?;
        let audience = match (from_audience, from_resource) {
            (Some(a), Some(r)) if a != r => {
                return Err(ApiError::InvalidTarget(ONE_AUDIENCE.into()));
            }
            (a, r) => a.or(r),
        };
        let scope = match self.scope.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                let mut scopes: Vec<Scope> = Vec::new();
                for item in raw.split(' ').filter(|s| !s.is_empty()) {
                    let scope =
                        Scope::parse(item).map_err(|e| ApiError::InvalidScope(e.to_string()))?;
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
                Some(scopes)
            }
        };
        Ok(TokenRequest { audience, scope })
    }

    fn check_grant_type(&self) -> Result<(), ApiError> {
        match self.grant_type.as_deref() {
            None | Some("") => Err(ApiError::InvalidRequest("grant_type is required".into())),
            Some(GRANT_CLIENT_CREDENTIALS) => Ok(()),
            Some(_) => Err(ApiError::UnsupportedGrantType),
        }
    }
}

/// The client's credentials by whichever one method it used: HTTP Basic
/// (`client_secret_basic`) or the request body (`client_secret_post`). Using both, or naming
/// a different client in the body than in the header, is `invalid_request` (RFC 6749 §2.3).
fn client_credentials(
    request: &Request<Bytes>,
    form: TokenForm,
) -> Result<(Option<ClientId>, PresentedSecret), ApiError> {
    let has_header = request.headers().contains_key(AUTHORIZATION);
    match (has_header, form.client_id, form.client_secret) {
        (true, None, None) => basic_credentials(request),
        (true, Some(body_id), None) => {
            let (client_id, secret) = basic_credentials(request)?;
            if client_id.map(|id| id.to_string()) != Some(body_id) {
                return Err(ApiError::InvalidRequest(TWO_CLIENTS.into()));
            }
            Ok((client_id, secret))
        }
        (true, _, Some(_)) => Err(ApiError::InvalidRequest(TWO_METHODS.into())),
        (false, Some(id), Some(secret)) => Ok((id.parse().ok(), PresentedSecret::new(secret))),
        (false, _, _) => Err(ApiError::InvalidClient(NO_CREDENTIALS)),
    }
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1): the client id and secret are each
/// form-urlencoded, joined by `:`, then base64-encoded. A client id that is not a UUID cannot
/// be ours and is returned as `None`, to fail exactly like an unknown one.
fn basic_credentials(
    request: &Request<Bytes>,
) -> Result<(Option<ClientId>, PresentedSecret), ApiError> {
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::InvalidClient(NO_CREDENTIALS));
    };
    let malformed = || ApiError::InvalidClient(MALFORMED_CREDENTIALS);
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| strip_scheme(v, "Basic"))
        .ok_or_else(malformed)?;
    let decoded = STANDARD
        .decode(encoded.trim_end())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (raw_id, raw_secret) = text.split_once(':').ok_or_else(malformed)?;
    let client_id = form_decode(raw_id).ok().and_then(|id| id.parse().ok());
    let secret = form_decode(raw_secret).map_err(|_| malformed())?;
    Ok((client_id, PresentedSecret::new(secret)))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte,
/// and the bytes must form UTF-8.
fn form_decode(raw: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = match raw.contains('+') {
        true => Cow::Owned(raw.replace('+', " ")),
        false => Cow::Borrowed(raw),
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_response_is_the_json_of_rfc_6749_section_5_1() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_";
        let parsed = |body: Vec<u8>| -> serde_json::Value {
            serde_json::from_slice(&body).expect("valid JSON")
        };
        assert_eq!(
            parsed(token_response(token, 3600, None)),
            serde_json::json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
        );
        assert_eq!(
            parsed(token_response(token, 300, Some("read write.all"))),
            serde_json::json!({"access_token": token, "expires_in": 300,
                "token_type": "Bearer", "scope": "read write.all"})
        );
    }

    #[test]
    fn form_decoding_follows_rfc_6749_section_2_3_1() {
        assert_eq!(form_decode("a%3Ab").as_deref(), Ok("a:b"));
        assert_eq!(form_decode("a+b%2Bc").as_deref(), Ok("a b+c"));
        assert_eq!(form_decode("plain-_.~").as_deref(), Ok("plain-_.~"));
        assert!(form_decode("%FF%FE").is_err(), "bytes that are not UTF-8");
    }

    fn grant(body: &[u8]) -> Result<(), ApiError> {
        TokenForm::parse(body)?.check_grant_type()
    }

    #[test]
    fn grant_type_is_required_once_and_must_be_client_credentials() {
        assert!(grant(b"grant_type=client_credentials&x=1&x=2").is_ok());
        assert!(matches!(grant(b""), Err(ApiError::InvalidRequest(_))));
        assert!(matches!(
            grant(b"scope=a&scope=b"),
            Err(ApiError::InvalidRequest(_))
        ));
        assert!(matches!(
            grant(b"grant_type=password"),
            Err(ApiError::UnsupportedGrantType)
        ));
    }
}
