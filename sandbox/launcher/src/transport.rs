//! A small blocking [`HttpTransport`] over `ureq`, for native tests, tools and benchmarks.
//!
//! `send` blocks the calling thread (drive the clients with `futures::executor::block_on`), and
//! every exchange is counted so tests can assert how many requests a call made.
use std::cell::RefCell;
use std::io::Read;
use std::time::Duration;

use decision_sync::clients::http::{HttpRequest, HttpResponse, HttpTransport, Method, TransportError};

/// One exchange as the transport saw it (method, URL and status; never headers or bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: Method,
    pub url: String,
    pub status: Option<u16>,
}

/// Blocking HTTP/1.1 transport (plain `http://` only: the sandbox runs on loopback).
pub struct UreqTransport {
    log: RefCell<Vec<Exchange>>,
    /// Real sleeps between retries are skipped when false (tests of retry logic stay fast).
    real_sleep: bool,
    seed: RefCell<u64>,
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new()
    }
}

impl UreqTransport {
    pub fn new() -> Self {
        UreqTransport { log: RefCell::new(Vec::new()), real_sleep: true, seed: RefCell::new(0x9E37_79B9_7F4A_7C15) }
    }

    /// Does not actually sleep on `sleep` (backoffs return at once).
    pub fn without_sleep(mut self) -> Self {
        self.real_sleep = false;
        self
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.borrow().clone()
    }

    pub fn clear(&self) {
        self.log.borrow_mut().clear();
    }

    fn agent(timeout_ms: u64) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(timeout_ms.max(1))))
            .build()
            .into()
    }

    /// Sends `request` now, blocking.
    pub fn send_blocking(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let agent = Self::agent(request.timeout_ms);
        let result = match request.method {
            Method::Get => {
                let mut builder = agent.get(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.call()
            }
            Method::Post | Method::Patch => {
                let mut builder =
                    if request.method == Method::Post { agent.post(&request.url) } else { agent.patch(&request.url) };
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.send(request.body.clone().unwrap_or_default().as_bytes())
            }
        };
        let outcome = match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
                    .collect();
                let mut body = String::new();
                let read = response.body_mut().as_reader().read_to_string(&mut body);
                match read {
                    Ok(_) => Ok(HttpResponse { status, headers, body }),
                    Err(e) => Err(TransportError::Network(format!("reading the response body: {e}"))),
                }
            }
            Err(ureq::Error::Timeout(_)) => Err(TransportError::Timeout(request.timeout_ms)),
            Err(e) => Err(TransportError::Network(e.to_string())),
        };
        self.log.borrow_mut().push(Exchange {
            method: request.method,
            url: request.url.clone(),
            status: outcome.as_ref().ok().map(|r| r.status),
        });
        outcome
    }
}

impl HttpTransport for UreqTransport {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_blocking(request)
    }

    async fn sleep(&self, millis: u64) {
        if self.real_sleep {
            std::thread::sleep(Duration::from_millis(millis));
        }
    }

    fn jitter(&self) -> f64 {
        // xorshift64*: good enough for backoff jitter.
        let mut seed = self.seed.borrow_mut();
        let mut x = *seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *seed = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}
