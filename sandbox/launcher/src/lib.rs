//! Local sandbox for decision-sync (native test tooling only): an ephemeral PostgreSQL 15 cluster
//! with Supabase's roles and the shipped migration, postrust-server (PostgREST-compatible) in
//! front of it, and the Notion emulator; plus a blocking [`transport::UreqTransport`] so native
//! tests and tools can drive the Worker's real clients against them.
//!
//! Every service is owned by a guard that stops its processes and removes its temp dir on drop.
//! Child processes also die with the thread that spawned them (`PR_SET_PDEATHSIG`): create the
//! sandbox on a thread that outlives it (a test's own thread, or the launcher's main thread).
pub mod jwt;
pub mod postgres;
pub mod postrust;
pub mod sandbox;
pub mod supabase;
pub mod transport;
pub mod util;
pub mod webhook_delivery;

pub use postgres::PgCluster;
pub use postrust::Postrust;
pub use sandbox::{Sandbox, SandboxOptions};
pub use supabase::{SupabaseOptions, SupabaseSandbox};
pub use transport::UreqTransport;
pub use webhook_delivery::{DeliveryOptions, WebhookDelivery};

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A required tool is not installed; the message says how to install it.
    #[error("{0}")]
    Missing(String),
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error("SQL failed: {0}")]
    Sql(String),
}
