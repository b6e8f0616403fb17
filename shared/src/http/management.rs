//! `/management/v4/...`: tenants, apps, scopes, roles, secrets, token settings and signing keys,
//! behind an
//! admin credential. Shapes follow App ID's v4 management API.

use std::fmt;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use serde::Serialize;

use super::Outcome;
use super::body;
use super::errors::ApiError;
use super::request::strip_scheme;
use super::response::{empty, json};
use crate::domain::{
    Access, Algorithm, App, BaseUrl, ClientId, KeyState, Name, PresentedSecret, Role, RoleId,
    Scope, SecretDigest, Tenant, TenantId,
};
use crate::ports::Page;
use crate::service::{DEFAULT_GRACE_SECONDS, Management, ManagementError};

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

/// What a management path names, once its ids are parsed.
enum Resource {
    Tenants,
    Tenant(TenantId),
    Apps(TenantId),
    App(TenantId, ClientId),
    AppScopes(TenantId, ClientId),
    AppRoles(TenantId, ClientId),
    AppSecret(TenantId, ClientId),
    Roles(TenantId),
    Role(TenantId, RoleId),
    TokenConfig(TenantId),
    AppTokenConfig(TenantId, ClientId),
    KeyConfig(TenantId),
    KeyRotation(TenantId),
}

impl Resource {
    /// Parses the path below `/management`. An id that cannot be one of ours answers like an
    /// unknown id of that kind.
    fn parse(path: &[&str]) -> Result<Self, ApiError> {
        let tenant = |raw: &str| {
            raw.parse::<TenantId>()
                .map_err(|_| ApiError::TenantNotFound)
        };
        let app = |raw: &str| {
            raw.parse::<ClientId>()
                .map_err(|_| ApiError::ApplicationNotFound)
        };
        let role = |raw: &str| raw.parse::<RoleId>().map_err(|_| ApiError::RoleNotFound);
        Ok(match path {
            ["v4", "tenants"] => Self::Tenants,
            ["v4", "tenants", t] => Self::Tenant(tenant(t)?),
            ["v4", t, "applications"] => Self::Apps(tenant(t)?),
            ["v4", t, "applications", c] => Self::App(tenant(t)?, app(c)?),
            ["v4", t, "applications", c, "scopes"] => Self::AppScopes(tenant(t)?, app(c)?),
            ["v4", t, "applications", c, "roles"] => Self::AppRoles(tenant(t)?, app(c)?),
            ["v4", t, "applications", c, "secret"] => Self::AppSecret(tenant(t)?, app(c)?),
            ["v4", t, "roles"] => Self::Roles(tenant(t)?),
            ["v4", t, "roles", r] => Self::Role(tenant(t)?, role(r)?),
            ["v4", t, "config", "tokens"] => Self::TokenConfig(tenant(t)?),
            ["v4", t, "config", "keys"] => Self::KeyConfig(tenant(t)?),
            ["v4", t, "config", "keys", "rotate"] => Self::KeyRotation(tenant(t)?),
            ["v4", t, "applications", c, "config", "tokens"] => {
                Self::AppTokenConfig(tenant(t)?, app(c)?)
            }
            _ => return Err(ApiError::NotFound),
        })
    }

    /// The methods the resource takes, for `Allow`.
    fn allowed(&self) -> &'static str {
        match self {
            Self::Tenants | Self::Apps(_) | Self::Roles(_) => "GET, POST",
            Self::Tenant(_) | Self::App(..) | Self::Role(..) => "GET, PUT, DELETE",
            Self::AppScopes(..)
            | Self::AppRoles(..)
            | Self::TokenConfig(_)
            | Self::KeyConfig(_)
            | Self::AppTokenConfig(..) => "GET, PUT",
            Self::AppSecret(..) | Self::KeyRotation(_) => "POST",
        }
    }

    fn tenant(&self) -> Option<TenantId> {
        match self {
            Self::Tenants => None,
            Self::Tenant(t)
            | Self::Apps(t)
            | Self::App(t, _)
            | Self::AppScopes(t, _)
            | Self::AppRoles(t, _)
            | Self::AppSecret(t, _)
            | Self::Roles(t)
            | Self::Role(t, _)
            | Self::TokenConfig(t)
            | Self::KeyConfig(t)
            | Self::KeyRotation(t)
            | Self::AppTokenConfig(t, _) => Some(*t),
        }
    }
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
    let resource = Resource::parse(path)?;
    outcome.tenant_id = resource.tenant();
    let method = request.method().clone();
    if method != Method::GET {
        outcome.action = Some(action(&resource, &method));
    }
    let view = View { origin };
    let answer = match (resource, method) {
        (Resource::Tenants, Method::POST) => {
            let members = body::object(request)?;
            let tenant = service
                .create_tenant(body::name(&members)?, body::algorithm(&members)?)
                .await;
            let tenant = tenant.map_err(management_error)?;
            outcome.tenant_id = Some(tenant.id);
            json(StatusCode::CREATED, &view.tenant(&tenant))
        }
        (Resource::Tenants, Method::GET) => {
            let page = service
                .tenants(&body::page(request)?)
                .await
                .map_err(management_error)?;
            ok(&Listing::new("tenants", &page, |t| view.tenant(t)))
        }
        (Resource::Tenant(t), Method::GET) => {
            ok(&view.tenant(&service.tenant(t).await.map_err(management_error)?))
        }
        (Resource::Tenant(t), Method::PUT) => {
            let name = body::name(&body::object(request)?)?;
            ok(&view.tenant(
                &service
                    .rename_tenant(t, name)
                    .await
                    .map_err(management_error)?,
            ))
        }
        (Resource::Tenant(t), Method::DELETE) => {
            service.delete_tenant(t).await.map_err(management_error)?;
            no_content()
        }
        (Resource::Apps(t), Method::POST) => {
            let name = body::name(&body::object(request)?)?;
            let (app, secret) = service
                .register_app(t, name)
                .await
                .map_err(management_error)?;
            outcome.client_id = Some(app.client_id);
            let body = AppRegistered {
                client_id: app.client_id,
                tenant_id: t,
                secret: secret.expose(),
                name: &app.name,
                o_auth_server_url: origin.oauth_server_url(&t),
            };
            json(StatusCode::CREATED, &body)
        }
        (Resource::Apps(t), Method::GET) => {
            let page = service
                .apps(t, &body::page(request)?)
                .await
                .map_err(management_error)?;
            ok(&Listing::new("applications", &page, |a| view.app(a)))
        }
        (Resource::App(t, c), method) => {
            outcome.client_id = Some(c);
            match method {
                Method::GET => ok(&view.app(&service.app(t, c).await.map_err(management_error)?)),
                Method::PUT => {
                    let name = body::name(&body::object(request)?)?;
                    ok(&view.app(
                        &service
                            .rename_app(t, c, name)
                            .await
                            .map_err(management_error)?,
                    ))
                }
                Method::DELETE => {
                    service.delete_app(t, c).await.map_err(management_error)?;
                    no_content()
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT, DELETE")),
            }
        }
        (Resource::AppScopes(t, c), method) => {
            outcome.client_id = Some(c);
            let app = match method {
                Method::GET => service.app(t, c).await,
                Method::PUT => {
                    service
                        .set_scopes(t, c, body::scopes(&body::object(request)?)?)
                        .await
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT")),
            };
            ok(&ScopeList {
                scopes: &app.map_err(management_error)?.scopes,
            })
        }
        (Resource::AppRoles(t, c), method) => {
            outcome.client_id = Some(c);
            let roles = match method {
                Method::GET => service.app_roles(t, c).await,
                Method::PUT => {
                    service
                        .assign_roles(t, c, body::role_ids(&body::object(request)?)?)
                        .await
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT")),
            };
            let roles = roles.map_err(management_error)?;
            ok(&AssignedRoles {
                roles: roles
                    .iter()
                    .map(|r| RoleRef {
                        id: r.id,
                        name: &r.name,
                    })
                    .collect(),
            })
        }
        (Resource::AppSecret(t, c), Method::POST) => {
            outcome.client_id = Some(c);
            let grace =
                body::grace_seconds(&body::optional_object(request)?, DEFAULT_GRACE_SECONDS)?;
            let (app, secret) = service
                .rotate_secret(t, c, grace)
                .await
                .map_err(management_error)?;
            let body = SecretRotated {
                client_id: c,
                secret: secret.expose(),
                secrets: secrets_info(&app),
            };
            ok(&body)
        }
        (Resource::Roles(t), Method::POST) => {
            let spec = body::role_spec(&body::object(request)?)?;
            let role = service
                .create_role(t, spec)
                .await
                .map_err(management_error)?;
            json(StatusCode::CREATED, &view.role(&role))
        }
        (Resource::Roles(t), Method::GET) => {
            let page = service
                .roles(t, &body::page(request)?)
                .await
                .map_err(management_error)?;
            ok(&Listing::new("roles", &page, |r| view.role(r)))
        }
        (Resource::Role(t, r), Method::GET) => {
            ok(&view.role(&service.role(t, r).await.map_err(management_error)?))
        }
        (Resource::Role(t, r), Method::PUT) => {
            let spec = body::role_spec(&body::object(request)?)?;
            ok(&view.role(
                &service
                    .replace_role(t, r, spec)
                    .await
                    .map_err(management_error)?,
            ))
        }
        (Resource::Role(t, r), Method::DELETE) => {
            service.delete_role(t, r).await.map_err(management_error)?;
            no_content()
        }
        (Resource::TokenConfig(t), method) => {
            let tenant = match method {
                Method::GET => service.tenant(t).await,
                Method::PUT => {
                    service
                        .set_token_ttl(t, body::token_ttl(&body::object(request)?)?)
                        .await
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT")),
            };
            let seconds = tenant.map_err(management_error)?.token_ttl.seconds();
            ok(&TokenConfig {
                access: AccessTokenConfig {
                    expires_in: seconds,
                },
            })
        }
        (Resource::AppTokenConfig(t, c), method) => {
            outcome.client_id = Some(c);
            let app = match method {
                Method::GET => service.app(t, c).await,
                Method::PUT => {
                    let ttl = body::app_token_ttl(&body::object(request)?)?;
                    service.set_app_token_ttl(t, c, ttl).await
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT")),
            };
            let app = app.map_err(management_error)?;
            let tenant_ttl = service.tenant(t).await.map_err(management_error)?.token_ttl;
            let seconds = app.token_ttl.unwrap_or(tenant_ttl).seconds();
            let body = AppTokenConfig {
                access: AccessTokenConfig {
                    expires_in: seconds,
                },
                inherited: app.token_ttl.is_none(),
            };
            ok(&body)
        }
        (Resource::KeyConfig(t), method) => {
            let tenant = match method {
                Method::GET => service.tenant(t).await,
                Method::PUT => {
                    let members = body::object(request)?;
                    let algorithm = body::algorithm(&members)?
                        .ok_or_else(|| ApiError::InvalidRequest("algorithm is required".into()))?;
                    service.set_signing_algorithm(t, algorithm).await
                }
                _ => return Err(ApiError::MethodNotAllowed("GET, PUT")),
            };
            let tenant = tenant.map_err(management_error)?;
            ok(&KeyConfig::new(
                &tenant,
                service.rotation_allowed_at(&tenant),
            ))
        }
        (Resource::KeyRotation(t), Method::POST) => {
            let tenant = service.rotate_keys(t).await.map_err(management_error)?;
            ok(&KeyConfig::new(
                &tenant,
                service.rotation_allowed_at(&tenant),
            ))
        }
        (resource, _) => return Err(ApiError::MethodNotAllowed(resource.allowed())),
    };
    Ok(answer)
}

/// The audit name of a change.
fn action(resource: &Resource, method: &Method) -> &'static str {
    match (resource, method.as_str()) {
        (Resource::Tenants, _) => "tenant.create",
        (Resource::Tenant(_), "PUT") => "tenant.rename",
        (Resource::Tenant(_), _) => "tenant.delete",
        (Resource::Apps(_), _) => "app.register",
        (Resource::App(..), "PUT") => "app.rename",
        (Resource::App(..), _) => "app.delete",
        (Resource::AppScopes(..), _) => "app.scopes.replace",
        (Resource::AppRoles(..), _) => "app.roles.assign",
        (Resource::AppSecret(..), _) => "app.secret.rotate",
        (Resource::Roles(_), _) => "role.create",
        (Resource::Role(..), "PUT") => "role.replace",
        (Resource::Role(..), _) => "role.delete",
        (Resource::TokenConfig(_), _) => "tenant.tokens.configure",
        (Resource::AppTokenConfig(..), _) => "app.tokens.configure",
        (Resource::KeyConfig(_), _) => "tenant.keys.configure",
        (Resource::KeyRotation(_), _) => "tenant.keys.rotate",
    }
}

fn management_error(error: ManagementError) -> ApiError {
    match error {
        ManagementError::TenantNotFound => ApiError::TenantNotFound,
        ManagementError::AppNotFound => ApiError::ApplicationNotFound,
        ManagementError::RoleNotFound => ApiError::RoleNotFound,
        ManagementError::InvalidRole(why) => ApiError::InvalidRole(why),
        ManagementError::Conflict => ApiError::Conflict,
        ManagementError::KeyNotReady(why) => ApiError::KeyNotReady(why.to_string()),
        ManagementError::Keys(e) => e.into(),
        ManagementError::Store(e) => e.into(),
    }
}

fn ok<T: Serialize>(body: &T) -> Response<Bytes> {
    json(StatusCode::OK, body)
}

fn no_content() -> Response<Bytes> {
    empty(StatusCode::NO_CONTENT)
}

/// Builds the public views of stored records, with URLs on the caller's origin.
struct View<'a> {
    origin: &'a BaseUrl,
}

impl View<'_> {
    fn tenant<'t>(&self, tenant: &'t Tenant) -> TenantView<'t> {
        TenantView {
            tenant_id: tenant.id,
            name: &tenant.name,
            o_auth_server_url: self.origin.oauth_server_url(&tenant.id),
            created_at: tenant.created_at,
        }
    }

    fn app<'t>(&self, app: &'t App) -> AppView<'t> {
        AppView {
            client_id: app.client_id,
            tenant_id: app.tenant_id,
            name: &app.name,
            o_auth_server_url: self.origin.oauth_server_url(&app.tenant_id),
            scopes: &app.scopes,
            secrets: secrets_info(app),
            created_at: app.created_at,
        }
    }

    fn role<'t>(&self, role: &'t Role) -> RoleView<'t> {
        RoleView {
            id: role.id,
            name: &role.name,
            description: role.description.as_str(),
            access: role.access.iter().map(AccessView::from).collect(),
            created_at: role.created_at,
        }
    }
}

fn secrets_info(app: &App) -> Vec<SecretInfo> {
    app.secrets
        .iter()
        .map(|s| SecretInfo {
            created_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantView<'a> {
    tenant_id: TenantId,
    name: &'a Name,
    o_auth_server_url: String,
    created_at: u64,
}

/// An app as any GET returns it: no secret, only when each live secret was made and when a
/// previous one expires. (App ID returns the secret here; we keep only digests.)
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppView<'a> {
    client_id: ClientId,
    tenant_id: TenantId,
    name: &'a Name,
    o_auth_server_url: String,
    scopes: &'a [Scope],
    secrets: Vec<SecretInfo>,
    created_at: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretInfo {
    created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

/// `POST /management/v4/{tenantId}/applications` → `201`, App ID's shape. With
/// [`SecretRotated`], the only responses that ever carry a secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppRegistered<'a> {
    client_id: ClientId,
    tenant_id: TenantId,
    secret: &'a str,
    name: &'a Name,
    o_auth_server_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretRotated<'a> {
    client_id: ClientId,
    secret: &'a str,
    secrets: Vec<SecretInfo>,
}

#[derive(Serialize)]
struct ScopeList<'a> {
    scopes: &'a [Scope],
}

#[derive(Serialize)]
struct AssignedRoles<'a> {
    roles: Vec<RoleRef<'a>>,
}

#[derive(Serialize)]
struct RoleRef<'a> {
    id: RoleId,
    name: &'a Name,
}

/// A role in App ID's shape (its `access` members are snake_case there too).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleView<'a> {
    id: RoleId,
    name: &'a Name,
    description: &'a str,
    access: Vec<AccessView<'a>>,
    created_at: u64,
}

#[derive(Serialize)]
struct AccessView<'a> {
    application_id: ClientId,
    scopes: &'a [Scope],
}

impl<'a> From<&'a Access> for AccessView<'a> {
    fn from(access: &'a Access) -> Self {
        Self {
            application_id: access.application_id,
            scopes: &access.scopes,
        }
    }
}

#[derive(Serialize)]
struct TokenConfig {
    access: AccessTokenConfig,
}

/// An app's token settings: the lifetime its tokens get, and whether that is its tenant's.
#[derive(Serialize)]
struct AppTokenConfig {
    access: AccessTokenConfig,
    inherited: bool,
}

#[derive(Serialize)]
struct AccessTokenConfig {
    expires_in: u32,
}

/// `/config/keys`: the algorithm the tenant's tokens are signed with, the one they will be
/// signed with after the next rotation, when that rotation may happen, and every key
/// verifiers should hold.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyConfig<'a> {
    algorithm: Algorithm,
    next_algorithm: Algorithm,
    next_rotation_allowed_at: u64,
    keys: Vec<KeyView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView<'a> {
    kid: &'a str,
    alg: Algorithm,
    status: &'static str,
    created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_until: Option<u64>,
}

impl<'a> KeyConfig<'a> {
    fn new(tenant: &'a Tenant, next_rotation_allowed_at: u64) -> Self {
        let keys = &tenant.keys;
        Self {
            algorithm: keys.current().algorithm,
            next_algorithm: keys.next_algorithm(),
            next_rotation_allowed_at,
            keys: keys
                .keys()
                .iter()
                .map(|key| {
                    let (status, published_until) = match key.state {
                        KeyState::Current => ("current", None),
                        KeyState::Next => ("next", None),
                        KeyState::Retiring { until } => ("retiring", Some(until)),
                    };
                    KeyView {
                        kid: &key.kid,
                        alg: key.algorithm,
                        status,
                        created_at: key.created_at,
                        published_until,
                    }
                })
                .collect(),
        }
    }
}

/// A page of a listing: `{"<kind>": [...], "nextCursor"?: "..."}`.
struct Listing<T> {
    kind: &'static str,
    items: Vec<T>,
    next_cursor: Option<String>,
}

impl<T> Listing<T> {
    fn new<'p, R>(kind: &'static str, page: &'p Page<R>, view: impl Fn(&'p R) -> T) -> Self {
        Self {
            kind,
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next.clone(),
        }
    }
}

impl<T: Serialize> Serialize for Listing<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(self.kind, &self.items)?;
        if let Some(cursor) = &self.next_cursor {
            map.serialize_entry("nextCursor", cursor)?;
        }
        map.end()
    }
}
