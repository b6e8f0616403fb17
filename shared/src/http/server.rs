//! The single-port HTTP/1.1 server of `appid-local`: hyper in front of [`Api`], with nothing of
//! its own but reading bodies up to the API's size limit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Api;
use super::errors::ApiError;
use crate::domain::BaseUrl;
use crate::guessing::SourceAddr;

const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// The read buffer hyper may grow to while it waits for a request head (its default is about
/// 400 KiB). A head that does not fit (measured: beyond about 128 KiB, as the buffer grows in
/// steps) gets hyper's own bare `431`; smaller heads over [`super::MAX_HEADER_BYTES`] get the
/// API's JSON `431`.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Accepts connections on `listener` until `shutdown` completes. `origin` is the public URL the
/// server is reached at, the base of every issuer URL.
pub async fn serve(
    api: Arc<Api>,
    listener: TcpListener,
    origin: BaseUrl,
    shutdown: impl Future<Output = ()>,
) {
    let origin = Arc::new(origin);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                // Running out of file descriptors or a reset during the handshake ends one
                // connection, not the server; the pause keeps a persistent failure from
                // spinning.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        // Tokens are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(&api);
        let origin = Arc::clone(&origin);
        let source = SourceAddr(peer.ip());
        tokio::spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                let api = Arc::clone(&api);
                let origin = Arc::clone(&origin);
                request.extensions_mut().insert(source);
                async move { Ok::<_, std::convert::Infallible>(answer(&api, &origin, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .max_buf_size(READ_BUFFER_BYTES)
                // Answers are small: one buffer written with one `write` costs the kernel less
                // than a vectored write of head and body (measured on the token path).
                .writev(false)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

async fn answer(
    api: &Api,
    origin: &BaseUrl,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let limit = api.max_body_bytes();
    let response = match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            api.handle(
                http::Request::from_parts(parts, collected.to_bytes()),
                origin,
            )
            .await
        }
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            tracing::info!(method = %parts.method, status = 413, error = "payload_too_large", "request");
            ApiError::PayloadTooLarge(limit).into_response()
        }
        Err(error) => {
            tracing::info!(%error, "request body could not be read");
            ApiError::InvalidRequest("the request body could not be read".into()).into_response()
        }
    };
    response.map(Full::new)
}
