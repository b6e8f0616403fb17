//! The one error map of the API. Every failure a caller can cause, and every failure of ours,
//! has one variant here with one fixed status and code, and one body shape for all routes:
//! `{"error": code, "error_description": text}`, which is RFC 6749 §5.2's shape and so also
//! what OAuth clients expect from the token endpoint. Descriptions never echo credentials.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use super::response::json;
use crate::domain::InvalidName;
use crate::ports::{SignError, StoreError};

/// Seconds a caller is asked to wait after a `503`.
const RETRY_AFTER_SECONDS: &str = "1";

#[derive(Debug)]
pub(super) enum ApiError {
    /// No route has this path.
    NotFound,
    /// The route exists but not with this method; carries the allowed methods.
    MethodNotAllowed(&'static str),
    /// Carries the limit in bytes.
    PayloadTooLarge(usize),
    /// The request's headers together exceed the limit in bytes it carries.
    HeadersTooLarge(usize),
    /// Carries the media type the route accepts.
    UnsupportedMediaType(&'static str),
    /// Management call without a valid admin credential.
    Unauthorized,
    InvalidJson(String),
    InvalidName(Cow<'static, str>),
    InvalidScope(String),
    /// A role or an assignment names an app, scope or role that does not exist, or is malformed.
    InvalidRole(String),
    TenantNotFound,
    ApplicationNotFound,
    RoleNotFound,
    /// The resource kept changing under concurrent writes; the caller should retry.
    Conflict,
    /// The tenant's next key has not been published long enough to sign; carries why.
    KeyNotReady(String),
    /// RFC 6749 §5.2 `invalid_request`.
    InvalidRequest(Cow<'static, str>),
    /// RFC 6749 §5.2 `invalid_client`; unknown client and wrong secret share one description.
    InvalidClient(&'static str),
    /// RFC 8707 §2 `invalid_target`: an audience that is not an app of the tenant.
    InvalidTarget(String),
    /// RFC 6749 §5.2 `unauthorized_client`: authenticated, but not allowed this.
    UnauthorizedClient(&'static str),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// The tenant is over its request rate; carries the seconds to wait.
    TooManyRequests(u64),
    /// Too many failed authentications for this client id or from this address; carries the
    /// seconds to wait.
    TooManyFailures(u64),
    /// A dependency is throttled or down; the caller should retry.
    TemporarilyUnavailable,
    /// A failure of ours that retrying will not fix.
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    /// App ID's member for rate limiting, given beside `error` on a `429`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    error_description: &'a str,
}

impl ApiError {
    /// The `error` code of the body, also the `error` field of the request's log event.
    pub(super) fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidName(_) => "invalid_name",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidRole(_) => "invalid_role",
            Self::TenantNotFound => "tenant_not_found",
            Self::ApplicationNotFound => "application_not_found",
            Self::RoleNotFound => "role_not_found",
            Self::Conflict => "conflict",
            Self::KeyNotReady(_) => "key_not_ready",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidTarget(_) => "invalid_target",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::TooManyRequests(_) | Self::TooManyFailures(_) => "too_many_requests",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::Internal => "server_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound
            | Self::TenantNotFound
            | Self::ApplicationNotFound
            | Self::RoleNotFound => StatusCode::NOT_FOUND,
            Self::Conflict | Self::KeyNotReady(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized | Self::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidJson(_)
            | Self::InvalidName(_)
            | Self::InvalidScope(_)
            | Self::InvalidRole(_)
            | Self::InvalidRequest(_)
            | Self::InvalidTarget(_)
            | Self::UnauthorizedClient(_)
            | Self::UnsupportedGrantType => StatusCode::BAD_REQUEST,
            Self::TooManyRequests(_) | Self::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn description(&self) -> Cow<'_, str> {
        match self {
            Self::NotFound => "no route matches this path".into(),
            Self::MethodNotAllowed(allow) => format!("this route accepts only {allow}").into(),
            Self::PayloadTooLarge(limit) => format!("request body exceeds {limit} bytes").into(),
            Self::HeadersTooLarge(limit) => format!("request headers exceed {limit} bytes").into(),
            Self::UnsupportedMediaType(expected) => {
                format!("Content-Type must be {expected}").into()
            }
            Self::Unauthorized => "a valid admin credential is required".into(),
            Self::InvalidJson(why) => format!("request body is not valid: {why}").into(),
            Self::InvalidName(why) => why.as_ref().into(),
            Self::InvalidScope(why)
            | Self::InvalidRole(why)
            | Self::InvalidTarget(why)
            | Self::KeyNotReady(why) => why.as_str().into(),
            Self::TenantNotFound => "no tenant has this id".into(),
            Self::ApplicationNotFound => "no application of this tenant has this client id".into(),
            Self::RoleNotFound => "no role of this tenant has this id".into(),
            Self::Conflict => "the resource changed concurrently; retry".into(),
            Self::InvalidRequest(why) => why.as_ref().into(),
            Self::InvalidClient(why) | Self::UnauthorizedClient(why) => (*why).into(),
            Self::UnsupportedGrantType => "only grant_type=client_credentials is supported".into(),
            Self::TooManyRequests(_) => "this tenant is over its request rate; retry later".into(),
            Self::TooManyFailures(_) => {
                "too many failed client authentications for this client or from this address; \
                 retry later"
                    .into()
            }
            Self::TemporarilyUnavailable => "the service is busy or degraded; retry shortly".into(),
            Self::Internal => "the server failed to handle this request".into(),
        }
    }

    pub(super) fn into_response(self) -> Response<Bytes> {
        let description = self.description();
        let error_code = matches!(self, Self::TooManyRequests(_) | Self::TooManyFailures(_))
            .then_some("too many requests");
        let body = ErrorBody {
            error: self.code(),
            error_code,
            error_description: &description,
        };
        let mut response = json(self.status(), &body);
        let headers = response.headers_mut();
        match &self {
            Self::MethodNotAllowed(allow) => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            Self::Unauthorized => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="appid-management""#),
                );
            }
            // RFC 6749 §5.2: a 401 must name the scheme the client should use.
            Self::InvalidClient(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="appid""#),
                );
            }
            Self::TemporarilyUnavailable => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            Self::TooManyRequests(seconds) | Self::TooManyFailures(seconds) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<InvalidName> for ApiError {
    fn from(error: InvalidName) -> Self {
        Self::InvalidName(error.to_string().into())
    }
}

/// Logs a store failure once, with its cause, and picks the answer: retry for anything
/// transient, a generic 500 for data we cannot read.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let retry = matches!(error, StoreError::Throttled(_) | StoreError::Unavailable(_));
        tracing::error!(error = %error_chain(&error), "store failure");
        if retry {
            Self::TemporarilyUnavailable
        } else {
            Self::Internal
        }
    }
}

impl From<SignError> for ApiError {
    fn from(error: SignError) -> Self {
        tracing::error!(error = %error_chain(&error), "signing failure");
        Self::TemporarilyUnavailable
    }
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
