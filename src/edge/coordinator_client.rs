//! The Worker's side of the coordinator: forwards a request to the one coordinator object and
//! answers with what it answers. The Worker itself does only routing, the admin token and the
//! Supabase webhook's secret, so its own invocations stay well under the free plan's 10 ms of CPU.
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use super::coordinator::{COORDINATOR_BINDING, COORDINATOR_NAME};

/// Why the coordinator could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("the Durable Object binding `{COORDINATOR_BINDING}` is not configured ({0}); declare it in wrangler.toml")]
    Binding(String),
    #[error("the coordinator Durable Object could not be reached: {0}")]
    Unreachable(String),
}

/// The one coordinator object.
pub struct Coordinator {
    stub: Stub,
}

impl Coordinator {
    pub fn from_env(env: &Env) -> Result<Self, CoordinatorError> {
        let namespace =
            env.durable_object(COORDINATOR_BINDING).map_err(|e| CoordinatorError::Binding(e.to_string()))?;
        let stub = namespace.get_by_name(COORDINATOR_NAME).map_err(|e| CoordinatorError::Binding(e.to_string()))?;
        Ok(Coordinator { stub })
    }

    /// Sends `method path` (with a JSON or raw body and extra headers) and returns the answer.
    pub async fn ask(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, String)],
    ) -> Result<Response, CoordinatorError> {
        let unreachable = |e: worker::Error| CoordinatorError::Unreachable(e.to_string());
        let mut init = RequestInit::new();
        init.with_method(method);
        let sent = Headers::new();
        if body.is_some() {
            sent.set("content-type", "application/json").map_err(unreachable)?;
        }
        for (name, value) in headers {
            sent.set(name, value).map_err(unreachable)?;
        }
        init.with_headers(sent);
        if let Some(body) = body {
            init.with_body(Some(JsValue::from_str(&body)));
        }
        let request =
            Request::new_with_init(&format!("https://coordinator.internal{path}"), &init).map_err(unreachable)?;
        self.stub.fetch_with_request(request).await.map_err(unreachable)
    }
}

impl From<CoordinatorError> for super::error::EdgeError {
    fn from(error: CoordinatorError) -> Self {
        super::error::EdgeError::Unavailable(error.to_string())
    }
}
