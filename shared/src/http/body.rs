//! Reading JSON bodies and query parameters of the management API into domain types, each
//! failure mapped to its specific error.

use bytes::Bytes;
use http::Request;
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::request::check_body;
use crate::domain::{Access, Algorithm, ClientId, Description, Name, RoleId, Scope, TokenTtl};
use crate::ports::PageRequest;
use crate::service::{MAX_GRACE_SECONDS, RoleSpec};

const JSON: &str = "application/json";
/// At most this many role ids in one assignment and entries in one role's access list.
pub(super) const MAX_ROLE_ITEMS: usize = 50;

/// The body as a JSON object. Members other than those a route reads are ignored, as App ID
/// ignores them.
pub(super) fn object(request: &Request<Bytes>) -> Result<Map<String, Value>, ApiError> {
    check_body(request, JSON)?;
    match serde_json::from_slice(request.body()) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(_) => Err(ApiError::InvalidJson("expected a JSON object".into())),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// Like [`object`], but an empty body (with any or no media type) is an empty object.
pub(super) fn optional_object(request: &Request<Bytes>) -> Result<Map<String, Value>, ApiError> {
    if request.body().is_empty() {
        Ok(Map::new())
    } else {
        object(request)
    }
}

/// `{"name": "..."}`.
pub(super) fn name(members: &Map<String, Value>) -> Result<Name, ApiError> {
    match members.get("name") {
        None | Some(Value::Null) => Err(ApiError::InvalidName("name is required".into())),
        Some(Value::String(raw)) => Ok(Name::parse(raw)?),
        Some(_) => Err(ApiError::InvalidName("name must be a string".into())),
    }
}

/// `{"algorithm": "RS256" | "ES256"}`; `None` when absent or null.
pub(super) fn algorithm(members: &Map<String, Value>) -> Result<Option<Algorithm>, ApiError> {
    let invalid = |why: String| ApiError::InvalidRequest(why.into());
    match members.get("algorithm") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => raw
            .parse::<Algorithm>()
            .map(Some)
            .map_err(|e| invalid(e.to_string())),
        Some(_) => Err(invalid("algorithm must be a string".into())),
    }
}

/// `{"scopes": ["read", ...]}`.
pub(super) fn scopes(members: &Map<String, Value>) -> Result<Vec<Scope>, ApiError> {
    let items = string_array(members.get("scopes"), "scopes", ApiError::InvalidScope)?;
    Scope::parse_list(items).map_err(|e| ApiError::InvalidScope(e.to_string()))
}

/// `{"roles": {"ids": ["<role id>", ...]}}`.
pub(super) fn role_ids(members: &Map<String, Value>) -> Result<Vec<RoleId>, ApiError> {
    let ids = members.get("roles").and_then(|roles| roles.get("ids"));
    let items = string_array(ids, "roles.ids", ApiError::InvalidRole)?;
    if items.len() > MAX_ROLE_ITEMS {
        return Err(ApiError::InvalidRole(format!(
            "at most {MAX_ROLE_ITEMS} roles may be assigned"
        )));
    }
    let mut parsed: Vec<RoleId> = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .parse()
            .map_err(|_| ApiError::InvalidRole("role ids must be UUIDs".into()))?;
        if !parsed.contains(&id) {
            parsed.push(id);
        }
    }
    Ok(parsed)
}

/// `{"name", "description"?, "access"?: [{"application_id", "scopes"}]}`.
pub(super) fn role_spec(members: &Map<String, Value>) -> Result<RoleSpec, ApiError> {
    let name = name(members)?;
    let description = match members.get("description") {
        None => Description::default(),
        Some(Value::String(raw)) => {
            Description::parse(raw).map_err(|e| ApiError::InvalidRequest(e.to_string().into()))?
        }
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "description must be a string".into(),
            ));
        }
    };
    let entries = match members.get("access") {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries.clone(),
        Some(_) => return Err(ApiError::InvalidRole("access must be an array".into())),
    };
    if entries.len() > MAX_ROLE_ITEMS {
        return Err(ApiError::InvalidRole(format!(
            "access takes at most {MAX_ROLE_ITEMS} entries"
        )));
    }
    let mut access: Vec<Access> = Vec::with_capacity(entries.len());
    for entry in &entries {
        let Value::Object(entry) = entry else {
            return Err(ApiError::InvalidRole(
                "each access entry must be an object".into(),
            ));
        };
        let application_id: ClientId = match entry.get("application_id") {
            Some(Value::String(raw)) => raw.parse().map_err(|_| {
                ApiError::InvalidRole("access application_id must be a client id (UUID)".into())
            })?,
            _ => {
                return Err(ApiError::InvalidRole(
                    "each access entry needs an application_id".into(),
                ));
            }
        };
        if access.iter().any(|a| a.application_id == application_id) {
            return Err(ApiError::InvalidRole(format!(
                "application {application_id} is listed twice"
            )));
        }
        access.push(Access {
            application_id,
            scopes: scopes(entry)?,
        });
    }
    Ok(RoleSpec {
        name,
        description,
        access,
    })
}

/// `{"graceSeconds": 0..604800}`, or the default when absent.
pub(super) fn grace_seconds(members: &Map<String, Value>, default: u64) -> Result<u64, ApiError> {
    match members.get("graceSeconds") {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|s| *s <= MAX_GRACE_SECONDS)
            .ok_or_else(|| {
                let why =
                    format!("graceSeconds must be a whole number from 0 to {MAX_GRACE_SECONDS}");
                ApiError::InvalidRequest(why.into())
            }),
    }
}

/// `{"access": {"expires_in": 300..86400}}`, App ID's token configuration.
pub(super) fn token_ttl(members: &Map<String, Value>) -> Result<TokenTtl, ApiError> {
    members
        .get("access")
        .and_then(|access| access.get("expires_in"))
        .and_then(whole_number)
        .and_then(|s| u32::try_from(s).ok())
        .and_then(TokenTtl::new)
        .ok_or_else(|| {
            let why = format!(
                "access.expires_in must be a whole number of seconds from {} to {}",
                TokenTtl::MIN,
                TokenTtl::MAX
            );
            ApiError::InvalidRequest(why.into())
        })
}

/// `{"access": {"expires_in": 300..86400 | null}}`: an app's own token lifetime, or `null` to
/// follow its tenant's.
pub(super) fn app_token_ttl(members: &Map<String, Value>) -> Result<Option<TokenTtl>, ApiError> {
    let access = members.get("access").and_then(Value::as_object);
    match access.and_then(|a| a.get("expires_in")) {
        Some(Value::Null) => Ok(None),
        _ => token_ttl(members).map(Some),
    }
}

/// `?limit=1..100&cursor=<id>`: a page of a listing. The cursor is the id of the last item of
/// the previous page.
pub(super) fn page(request: &Request<Bytes>) -> Result<PageRequest, ApiError> {
    let mut page = PageRequest::first(PageRequest::DEFAULT_LIMIT);
    let query = request.uri().query().unwrap_or("");
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                page.limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=PageRequest::MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        let why = format!("limit must be from 1 to {}", PageRequest::MAX_LIMIT);
                        ApiError::InvalidRequest(why.into())
                    })?;
            }
            "cursor" => {
                let valid = value
                    .parse::<uuid::Uuid>()
                    .is_ok_and(|u| u.hyphenated().to_string() == value);
                if !valid {
                    return Err(ApiError::InvalidRequest(
                        "cursor is not one this API returned".into(),
                    ));
                }
                page.after = Some(value.into_owned());
            }
            _ => {}
        }
    }
    Ok(page)
}

/// A non-negative whole number, also when written with a fraction of zero (`600.0`), which JSON
/// Schema counts as an integer too.
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let float = value.as_f64()?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole =
            (float.fract() == 0.0 && (0.0..=9.0e15).contains(&float)).then_some(float as u64);
        whole
    })
}

fn string_array<'a>(
    value: Option<&'a Value>,
    what: &str,
    error: fn(String) -> ApiError,
) -> Result<Vec<&'a str>, ApiError> {
    let Some(Value::Array(items)) = value else {
        return Err(error(format!("{what} must be an array of strings")));
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| error(format!("{what} must be an array of strings")))
        })
        .collect()
}
