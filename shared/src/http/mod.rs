//! The HTTP mapping: parse a request into domain types, call the service, map the result to a
//! response. The same [`Api`] serves API Gateway through `lambda_http` and the single-port local
//! server; each entry point only converts its request type and says where callers reach it.
//!
//! Routes (App ID's v4 paths; `shared/openapi.yaml` describes each in full):
//!
//! | path                                             | served by  |
//! |--------------------------------------------------|------------|
//! | `/management/v4/tenants[/{tenantId}]`            | management |
//! | `/management/v4/{tenantId}/applications/...`     | management |
//! | `/management/v4/{tenantId}/roles[/{roleId}]`     | management |
//! | `/management/v4/{tenantId}/config/tokens`        | management |
//! | `POST /oauth/v4/{tenantId}/token`                | token      |
//! | `GET /oauth/v4/{tenantId}/publickeys`            | token      |
//! | `GET /oauth/v4/{tenantId}/.well-known/...`       | token      |
//! | `GET /.well-known/oauth-authorization-server/oauth/v4/{tenantId}` | token |
//! | `GET /openapi.yaml`                              | local only |

mod body;
mod errors;
mod management;
mod oauth;
mod request;
mod response;

#[cfg(feature = "aws")]
pub mod lambda;
#[cfg(feature = "embedded")]
pub mod server;

use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response};

pub use management::{AdminAuth, IamCaller, InvalidAdminToken};

use crate::domain::{BaseUrl, ClientId, TenantId};
use crate::guessing::GuessingGuard;
use crate::metrics::{MetricsSink, RequestMetrics};
use crate::ratelimit::RateLimiter;
use crate::service::{Management, TokenIssuer};
use errors::ApiError;

/// Request bodies larger than this are refused with `413` before they are routed, unless the
/// operator sets another limit. The largest body this API takes (a role of 50 grants of 50
/// scopes each) fits well within it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;

/// Requests whose header names and values add up to more than this are refused with `431`. The
/// API needs a few hundred bytes of headers; API Gateway's own limit is 10 KB.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The routes one entry point serves, with the services behind them. A Lambda function holds
/// only its own half; the local server holds both.
pub struct Api {
    management: Option<(Management, AdminAuth)>,
    oauth: Option<TokenIssuer>,
    limiter: Option<RateLimiter>,
    guard: Option<GuessingGuard>,
    metrics: Option<MetricsSink>,
    openapi: bool,
    max_body_bytes: usize,
}

impl Default for Api {
    fn default() -> Self {
        Self {
            management: None,
            oauth: None,
            limiter: None,
            guard: None,
            metrics: None,
            openapi: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The OpenAPI 3.1 description of this API, tested against the implementation.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

impl Api {
    /// Serves `/management/...` with `service`, behind `admin` authentication.
    pub fn with_management(mut self, service: Management, admin: AdminAuth) -> Self {
        self.management = Some((service, admin));
        self
    }

    /// Serves `/oauth/...` with `issuer`.
    pub fn with_oauth(mut self, issuer: TokenIssuer) -> Self {
        self.oauth = Some(issuer);
        self
    }

    /// Limits each tenant's requests to the OAuth endpoints that take credentials.
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Slows repeated failed client authentications per client id and per source address
    /// (see [`crate::guessing`]).
    pub fn with_guessing_guard(mut self, guard: GuessingGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Writes one Embedded Metric Format line per answered request to `sink`.
    pub fn with_metrics(mut self, sink: MetricsSink) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Refuses request bodies over `bytes` with `413`.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Serves this API's OpenAPI document at `GET /openapi.yaml`.
    pub fn with_openapi(mut self) -> Self {
        self.openapi = true;
        self
    }

    /// Answers one request. `origin` is where the caller reached us; issuer and endpoint URLs
    /// are built on it. Never fails: every error becomes a response, and the outcome is logged
    /// once, without credentials, secrets or tokens.
    pub async fn handle(&self, request: Request<Bytes>, origin: &BaseUrl) -> Response<Bytes> {
        let started = Instant::now();
        let mut outcome = Outcome::default();
        let response = match self.dispatch(&request, origin, &mut outcome).await {
            Ok(response) => response,
            Err(error) => {
                outcome.error = Some(error.code());
                error.into_response()
            }
        };
        let status = response.status().as_u16();
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        outcome.log(request.method(), status, latency_us);
        if let Some(metrics) = &self.metrics {
            metrics.record(&RequestMetrics {
                route: outcome.route.unwrap_or("unrouted"),
                status,
                error: outcome.error,
                latency_us,
            });
        }
        response
    }

    async fn dispatch(
        &self,
        request: &Request<Bytes>,
        origin: &BaseUrl,
        outcome: &mut Outcome,
    ) -> Result<Response<Bytes>, ApiError> {
        if request.body().len() > self.max_body_bytes {
            return Err(ApiError::PayloadTooLarge(self.max_body_bytes));
        }
        let header_bytes: usize = (request.headers().iter())
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
        }
        let path = request.uri().path();
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            ["management", rest @ ..] => match &self.management {
                Some((service, admin)) => {
                    outcome.route = Some("management");
                    management::handle(service, admin, rest, request, origin, outcome).await
                }
                None => Err(ApiError::NotFound),
            },
            ["oauth", "v4", tenant, endpoint @ ..] => match &self.oauth {
                Some(issuer) => {
                    let limits = oauth::Limits {
                        rate: self.limiter.as_ref(),
                        guessing: self.guard.as_ref(),
                    };
                    oauth::handle(issuer, limits, tenant, endpoint, request, origin, outcome).await
                }
                None => Err(ApiError::NotFound),
            },
            // RFC 8414 §3: the metadata of issuer `<origin>/oauth/v4/<tenant>` lives at
            // `<origin>/.well-known/oauth-authorization-server/oauth/v4/<tenant>`.
            [
                ".well-known",
                "oauth-authorization-server",
                "oauth",
                "v4",
                tenant,
            ] => match &self.oauth {
                Some(issuer) => {
                    let endpoint = [".well-known", "oauth-authorization-server"];
                    let limits = oauth::Limits::default();
                    oauth::handle(issuer, limits, tenant, &endpoint, request, origin, outcome).await
                }
                None => Err(ApiError::NotFound),
            },
            ["openapi.yaml"] if self.openapi => {
                request::only(request, &Method::GET, "GET")?;
                let mut response = Response::new(Bytes::from_static(OPENAPI_YAML.as_bytes()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/yaml"),
                );
                Ok(response)
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

/// What a request did, logged as one structured event when it is answered.
#[derive(Debug, Default)]
struct Outcome {
    route: Option<&'static str>,
    actor: Option<String>,
    /// What a request that changes or authenticates something asked for, for the audit trail:
    /// management changes, and the token endpoints, whose failures with `invalid_client` are
    /// the failed client authentications.
    action: Option<&'static str>,
    tenant_id: Option<TenantId>,
    client_id: Option<ClientId>,
    jti: Option<uuid::Uuid>,
    error: Option<&'static str>,
}

impl Outcome {
    /// Our own failures are logged at ERROR, with their cause, where they are handled; this
    /// event records the outcome of every request alike. A management change is logged under
    /// the `audit` target, so the audit trail can be routed on its own. Our own constants and
    /// ids are recorded as they are; only the actor, which comes from outside, is quoted.
    fn log(&self, method: &Method, status: u16, latency_us: u64) {
        let outcome = if status < 400 { "success" } else { "failure" };
        macro_rules! event {
            ($($target:tt)*) => {
                tracing::info!(
                    $($target)*
                    route = self.route.map(tracing::field::display),
                    method = %method,
                    status,
                    outcome = %outcome,
                    action = self.action.map(tracing::field::display),
                    actor = self.actor.as_deref(),
                    tenant_id = self.tenant_id.map(tracing::field::display),
                    client_id = self.client_id.map(tracing::field::display),
                    jti = self.jti.map(tracing::field::display),
                    error = self.error.map(tracing::field::display),
                    latency_us,
                    "request"
                )
            };
        }
        if self.action.is_some() {
            event!(target: "audit",);
        } else {
            event!();
        }
    }
}
