//! Missing PostgreSQL binaries or postrust-server fail with a message saying how to install them
//! (CI installs them; the tests never skip). A test binary of its own: it changes the environment.
use sync_sandbox::{PgCluster, SandboxError, SupabaseOptions, SupabaseSandbox};

#[test]
fn missing_tools_are_reported_with_the_install_command() {
    std::env::set_var("SANDBOX_PG_BIN", "/nonexistent/postgresql/bin");
    match PgCluster::start() {
        Err(SandboxError::Missing(message)) => {
            assert!(message.contains("apt-get install postgresql-15"), "{message}");
            assert!(message.contains("/nonexistent/postgresql/bin/initdb"), "{message}");
        }
        other => panic!("expected a Missing error, got {other:?}"),
    }
    std::env::remove_var("SANDBOX_PG_BIN");

    std::env::set_var("POSTRUST_BIN", "/nonexistent/postrust");
    match SupabaseSandbox::start(SupabaseOptions::default()) {
        Err(SandboxError::Missing(message)) => {
            assert!(message.contains("scripts/ensure-postrust.sh"), "{message}");
            assert!(message.contains("postrust-server --version 3.1.0"), "{message}");
        }
        other => panic!("expected a Missing error, got {other:?}"),
    }
    std::env::remove_var("POSTRUST_BIN");
}
