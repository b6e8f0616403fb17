//! The `lambda_http` entry point: converts API Gateway (HTTP API, payload 2.0) and
//! `cargo lambda` events into plain requests for [`Api`], and the answers back.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, service_fn};

use super::{Api, IamCaller};
use crate::domain::BaseUrl;
use crate::guessing::SourceAddr;

/// Serves `api` until the Lambda runtime stops the process. `public_url`, when set, is the
/// origin of every issuer URL; otherwise it is read from each request (see [`origin`]).
pub async fn run(api: Api, public_url: Option<BaseUrl>) -> Result<(), lambda_http::Error> {
    let shared = Arc::new((api, public_url));
    lambda_http::run(service_fn(move |event: lambda_http::Request| {
        let shared = Arc::clone(&shared);
        async move {
            let (api, public_url) = &*shared;
            Ok::<_, Infallible>(handle(api, public_url.as_ref(), event).await)
        }
    }))
    .await
}

/// Answers one Lambda event.
pub async fn handle(
    api: &Api,
    public_url: Option<&BaseUrl>,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let context = event.request_context_ref().cloned();
    let (mut parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    if let Some(caller) = context.as_ref().and_then(iam_caller) {
        parts.extensions.insert(caller);
    }
    if let Some(source) = context.as_ref().and_then(source_addr) {
        parts.extensions.insert(source);
    }
    let origin = public_url
        .cloned()
        .or_else(|| origin(context.as_ref(), &parts.headers));
    let Some(origin) = origin else {
        tracing::error!("cannot tell the public URL: set APPID_PUBLIC_URL");
        return super::errors::ApiError::Internal
            .into_response()
            .map(to_body);
    };
    api.handle(http::Request::from_parts(parts, body), &origin)
        .await
        .map(to_body)
}

/// Where the caller reached us: the domain API Gateway reports (its own or a custom domain,
/// never a value the caller controls), or, with no API Gateway in front as under
/// `cargo lambda watch`, the `Host` header over plain HTTP.
fn origin(context: Option<&RequestContext>, headers: &http::HeaderMap) -> Option<BaseUrl> {
    let gateway_domain = match context {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.as_deref(),
        _ => None,
    };
    if let Some(domain) = gateway_domain.filter(|d| !d.is_empty() && !is_local(d)) {
        return BaseUrl::parse(&format!("https://{domain}")).ok();
    }
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    BaseUrl::parse(&format!("http://{host}")).ok()
}

/// Local emulators report a loopback "domain", which API Gateway never does.
fn is_local(domain: &str) -> bool {
    domain == "localhost" || domain.starts_with("localhost:") || domain.starts_with("127.")
}

/// The IAM principal API Gateway's `AWS_IAM` authorizer verified, if any.
fn iam_caller(context: &RequestContext) -> Option<IamCaller> {
    let RequestContext::ApiGatewayV2(ctx) = context else {
        return None;
    };
    let iam = ctx.authorizer.as_ref()?.iam.as_ref()?;
    let principal = iam.user_arn.clone().or_else(|| iam.caller_id.clone())?;
    Some(IamCaller(principal))
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`), which the caller
/// cannot set.
fn source_addr(context: &RequestContext) -> Option<SourceAddr> {
    let RequestContext::ApiGatewayV2(ctx) = context else {
        return None;
    };
    ctx.http.source_ip.as_deref()?.parse().ok().map(SourceAddr)
}

/// Every body this API writes is JSON, so it goes back as text rather than base64.
fn to_body(bytes: Bytes) -> Body {
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    }
}
