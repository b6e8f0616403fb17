//! Checks every route applies to a request before it parses the body.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request};

use super::errors::ApiError;

/// Refuses any method but `method`, naming the allowed one in `Allow`.
pub(super) fn only(
    request: &Request<Bytes>,
    method: &Method,
    allow: &'static str,
) -> Result<(), ApiError> {
    if request.method() == method {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(allow))
    }
}

/// Checks the media type of a body, as every route that takes one must. (Its size was checked
/// before routing.)
pub(super) fn check_body(
    request: &Request<Bytes>,
    media_type: &'static str,
) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = content_type.map(|v| v.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(found) if found.eq_ignore_ascii_case(media_type) => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(media_type)),
    }
}

/// The credentials after `<scheme> ` in an `Authorization` value; the scheme is
/// case-insensitive (RFC 9110 §11.1).
pub(super) fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (found, rest) = value.split_once(' ')?;
    found
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim_start())
}
