//! Building responses. Every JSON response of this API is marked uncacheable unless a handler
//! says otherwise: management responses carry secrets and token responses carry tokens
//! (RFC 6749 §5.1).

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

pub(super) const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub(super) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`.
pub(super) fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response<Bytes> {
    let mut bytes = Vec::with_capacity(256);
    // Every body here is a struct of strings and numbers, which always serializes.
    serde_json::to_writer(&mut bytes, body).expect("response bodies serialize to JSON");
    json_body(status, bytes)
}

/// [`json`] for a body already serialized.
pub(super) fn json_body(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, JSON);
    headers.insert(CACHE_CONTROL, NO_STORE);
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A response with no body (`204` after a deletion, `200` after a revocation), still marked
/// uncacheable.
pub(super) fn empty(status: StatusCode) -> Response<Bytes> {
    let mut response = json(status, &());
    *response.body_mut() = Bytes::new();
    response.headers_mut().remove(CONTENT_TYPE);
    response
}
