//! One integration-test binary (faster to link than one per file).

mod behaviour;
mod common;
mod current;
mod documented;
mod fidelity;
mod schema;
mod webhooks;
