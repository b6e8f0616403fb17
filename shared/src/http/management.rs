//! `/management/v4/...`: registering tenants and apps, behind an admin credential.

use std::fmt;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::Outcome;
use super::errors::ApiError;
use super::request::{check_body, only, strip_scheme};
use super::response::json;
use crate::domain::{BaseUrl, ClientId, Name, PresentedSecret, SecretDigest, TenantId};
use crate::service::{Management, ManagementError};

/// How management callers prove they are administrators.
pub enum AdminAuth {
    /// `Authorization: Bearer <token>`, compared by digest in constant time.
    Token(SecretDigest),
    /// API Gateway's `AWS_IAM` authorizer has verified a SigV4 signature; the function trusts
    /// the caller identity API Gateway put in the request context ([`IamCaller`]).
    Iam,
}

/// Why an admin token was refused at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an admin token must be at least {min} characters of visible ASCII", min = AdminAuth::MIN_TOKEN_CHARS)]
pub struct InvalidAdminToken;

impl AdminAuth {
    /// Long enough to carry 190 bits even when drawn from base64's alphabet.
    pub const MIN_TOKEN_CHARS: usize = 32;

    /// Accepts an operator-chosen token and keeps only its digest.
    pub fn token(token: &str) -> Result<Self, InvalidAdminToken> {
        let visible = token.bytes().all(|b| b.is_ascii_graphic());
        if token.len() < Self::MIN_TOKEN_CHARS || !visible {
            return Err(InvalidAdminToken);
        }
        Ok(Self::Token(SecretDigest::of(token)))
    }

    /// Who the caller is, or `Unauthorized`.
    fn authenticate(&self, request: &Request<Bytes>) -> Result<String, ApiError> {
        match self {
            Self::Token(expected) => {
                let presented = request
                    .headers()
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| strip_scheme(v, "Bearer"))
                    .ok_or(ApiError::Unauthorized)?;
                if PresentedSecret::new(presented.to_owned()).matches(expected) {
                    Ok("admin-token".to_owned())
                } else {
                    Err(ApiError::Unauthorized)
                }
            }
            Self::Iam => request
                .extensions()
                .get::<IamCaller>()
                .map(|caller| caller.0.clone())
                .ok_or(ApiError::Unauthorized),
        }
    }
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("AdminAuth::Token(<redacted>)"),
            Self::Iam => f.write_str("AdminAuth::Iam"),
        }
    }
}

/// The IAM principal (its ARN) that API Gateway authenticated, put on the request by the Lambda
/// entry point. Its presence is what authorizes a management call in [`AdminAuth::Iam`] mode.
#[derive(Debug, Clone)]
pub struct IamCaller(pub String);

/// `POST /management/v4/tenants` → `201`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantCreated<'a> {
    tenant_id: TenantId,
    name: &'a Name,
    o_auth_server_url: String,
}

/// `POST /management/v4/{tenantId}/applications` → `201`, App ID's shape. The only response that
/// ever carries the secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppRegistered<'a> {
    client_id: ClientId,
    tenant_id: TenantId,
    secret: &'a str,
    name: &'a Name,
    o_auth_server_url: String,
}

/// Routes a request below `/management`, after checking the admin credential: an
/// unauthenticated caller learns nothing, not even which paths exist.
pub(super) async fn handle(
    service: &Management,
    admin: &AdminAuth,
    path: &[&str],
    request: &Request<Bytes>,
    origin: &BaseUrl,
    outcome: &mut Outcome,
) -> Result<Response<Bytes>, ApiError> {
    outcome.actor = Some(admin.authenticate(request)?);
    match path {
        ["v4", "tenants"] => {
            only(request, &Method::POST, "POST")?;
            let name = parse_name_body(request)?;
            let tenant = service
                .create_tenant(name)
                .await
                .map_err(management_error)?;
            outcome.tenant_id = Some(tenant.id);
            let body = TenantCreated {
                tenant_id: tenant.id,
                name: &tenant.name,
                o_auth_server_url: origin.oauth_server_url(&tenant.id),
            };
            Ok(json(StatusCode::CREATED, &body))
        }
        ["v4", tenant, "applications"] => {
            only(request, &Method::POST, "POST")?;
            let tenant_id: TenantId = tenant.parse().map_err(|_| ApiError::TenantNotFound)?;
            outcome.tenant_id = Some(tenant_id);
            let name = parse_name_body(request)?;
            let (app, secret) = service
                .register_app(tenant_id, name)
                .await
                .map_err(management_error)?;
            outcome.client_id = Some(app.client_id);
            let body = AppRegistered {
                client_id: app.client_id,
                tenant_id,
                secret: secret.expose(),
                name: &app.name,
                o_auth_server_url: origin.oauth_server_url(&tenant_id),
            };
            Ok(json(StatusCode::CREATED, &body))
        }
        _ => Err(ApiError::NotFound),
    }
}

fn management_error(error: ManagementError) -> ApiError {
    match error {
        ManagementError::TenantNotFound => ApiError::TenantNotFound,
        ManagementError::Store(e) => e.into(),
    }
}

/// `{"name": "..."}`, the body of both creation routes. Other members are ignored, as App ID
/// ignores them.
fn parse_name_body(request: &Request<Bytes>) -> Result<Name, ApiError> {
    check_body(request, "application/json")?;
    let value: Value =
        serde_json::from_slice(request.body()).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let Value::Object(members) = value else {
        return Err(ApiError::InvalidJson("expected a JSON object".into()));
    };
    match members.get("name") {
        None | Some(Value::Null) => Err(ApiError::InvalidName("name is required".into())),
        Some(Value::String(raw)) => Ok(Name::parse(raw)?),
        Some(_) => Err(ApiError::InvalidName("name must be a string".into())),
    }
}
