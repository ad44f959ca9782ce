//! The only HTTP client in the host. Nothing else opens an outbound
//! connection. It follows no redirects.

use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Send an already-allowed request.
pub(super) async fn send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
> {
    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
    Ok((response.map(|b| b.boxed_unsync()), Box::new(io)))
}
