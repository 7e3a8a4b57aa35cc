//! [`HttpTransport`] over the Workers runtime: `fetch` with an `AbortSignal` timeout,
//! `setTimeout` for waits, and the runtime's CSPRNG for backoff jitter.
use std::time::Duration;

use futures::future::{select, Either};
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method as WorkerMethod, Request, RequestInit};

use crate::clients::http::{HttpRequest, HttpResponse, HttpTransport, Method, TransportError};

/// Sends requests with the Worker's `fetch`. Every call is one external subrequest.
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchTransport;

fn method(method: Method) -> WorkerMethod {
    match method {
        Method::Get => WorkerMethod::Get,
        Method::Post => WorkerMethod::Post,
        Method::Patch => WorkerMethod::Patch,
    }
}

/// Builds the runtime request. Errors never include header values (they carry secrets).
fn build(request: &HttpRequest) -> Result<Request, TransportError> {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| TransportError::Network(format!("invalid header `{name}`")))?;
    }
    let mut init = RequestInit::new();
    init.with_method(method(request.method)).with_headers(headers);
    if let Some(body) = &request.body {
        init.with_body(Some(JsValue::from_str(body)));
    }
    Request::new_with_init(&request.url, &init)
        .map_err(|error| TransportError::Network(format!("{}: {error}", request.describe())))
}

impl HttpTransport for FetchTransport {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let controller = AbortController::default();
        let signal = controller.signal();
        let runtime_request = build(request)?;
        let fetch = Fetch::Request(runtime_request);
        let sending = Box::pin(fetch.send_with_signal(&signal));
        let timeout = Box::pin(Delay::from(Duration::from_millis(request.timeout_ms)));
        let mut response = match select(sending, timeout).await {
            Either::Left((result, _)) => {
                result.map_err(|error| TransportError::Network(format!("{}: {error}", request.describe())))?
            }
            Either::Right(((), _)) => {
                controller.abort();
                return Err(TransportError::Timeout(request.timeout_ms));
            }
        };
        let status = response.status_code();
        let headers: Vec<(String, String)> = response.headers().entries().collect();
        let body = response.text().await.map_err(|error| {
            TransportError::Network(format!("{}: reading the body failed: {error}", request.describe()))
        })?;
        Ok(HttpResponse { status, headers, body })
    }

    async fn sleep(&self, millis: u64) {
        Delay::from(Duration::from_millis(millis)).await;
    }

    fn jitter(&self) -> f64 {
        match getrandom::u32() {
            Ok(value) => f64::from(value) / (f64::from(u32::MAX) + 1.0),
            Err(_) => 0.5,
        }
    }
}
