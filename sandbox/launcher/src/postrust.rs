//! postrust-server (a PostgREST-compatible server) in front of a sandbox database.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::postgres::PgCluster;
use crate::util;
use crate::SandboxError;

/// How to install the server when it is missing.
pub const INSTALL_HINT: &str =
    "install it with `bash scripts/ensure-postrust.sh` (cargo install postrust-server --version 3.1.0), \
     or point POSTRUST_BIN at the `postrust` binary";

/// The `postrust` binary: `POSTRUST_BIN`, else `postrust` / `postrust-server` in PATH or ~/.cargo/bin.
pub fn postrust_binary() -> Result<PathBuf, SandboxError> {
    util::find_binary("POSTRUST_BIN", &["postrust", "postrust-server"], &util::cargo_bin_dir())
        .ok_or_else(|| SandboxError::Missing(format!("postrust-server not found; {INSTALL_HINT}")))
}

/// A running postrust-server. Dropping it stops the process and removes its log directory.
pub struct Postrust {
    child: Option<Child>,
    port: u16,
    log_dir: PathBuf,
}

impl std::fmt::Debug for Postrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postrust").field("port", &self.port).finish()
    }
}

impl Postrust {
    /// Starts postrust on a free port, connected to `database` as `authenticator`, verifying
    /// HS256 tokens with `jwt_secret`, serving the REST surface at the root (compatibility mode).
    pub fn start(cluster: &PgCluster, database: &str, jwt_secret: &str) -> Result<Postrust, SandboxError> {
        let binary = postrust_binary()?;
        let log_dir = util::temp_dir("decision-sync-postrust", None)?;
        let mut last_error = None;
        for _ in 0..5 {
            let port = util::free_port()?;
            let mut server = Postrust { child: None, port, log_dir: log_dir.clone() };
            match server.launch(&binary, cluster, database, jwt_secret) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    // Keep the directory for the next try.
                    server.log_dir = PathBuf::new();
                    last_error = Some(e);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&log_dir);
        Err(last_error.unwrap_or_else(|| SandboxError::Setup("postrust did not start".into())))
    }

    fn log_path(&self) -> PathBuf {
        self.log_dir.join("postrust.log")
    }

    fn launch(
        &mut self,
        binary: &PathBuf,
        cluster: &PgCluster,
        database: &str,
        jwt_secret: &str,
    ) -> Result<(), SandboxError> {
        let log = std::fs::File::create(self.log_path())
            .map_err(|e| SandboxError::Setup(format!("cannot create the postrust log: {e}")))?;
        let log_err = log.try_clone().map_err(|e| SandboxError::Setup(e.to_string()))?;
        let mut command = Command::new(binary);
        // Settings inherited from the caller's environment must not leak in (`DATABASE_URL` and
        // `PORT` would even override ours).
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().to_string();
            if name.starts_with("PGRST_") || name.starts_with("POSTRUST_") || name.starts_with("HASURA_") {
                command.env_remove(name);
            }
        }
        command
            .env_remove("DATABASE_URL")
            .env_remove("PORT")
            .env("PGRST_DB_URI", cluster.uri("authenticator", database))
            .env("PGRST_DB_SCHEMAS", "public")
            .env("PGRST_DB_ANON_ROLE", "anon")
            .env("PGRST_DB_POOL", "4")
            .env("PGRST_DB_CHANNEL_ENABLED", "true")
            .env("PGRST_JWT_SECRET", jwt_secret)
            .env("PGRST_SERVER_HOST", "127.0.0.1")
            .env("PGRST_SERVER_PORT", self.port.to_string())
            .env("PGRST_COMPAT_MODE", "true")
            .env("PGRST_LOG_LEVEL", "warn")
            .env("RUST_LOG", "postrust=warn")
            .env("NO_COLOR", "1")
            .current_dir(&self.log_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        util::own_process_group(&mut command);
        let child =
            command.spawn().map_err(|e| SandboxError::Setup(format!("cannot start {}: {e}", binary.display())))?;
        self.child = Some(child);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let ready = format!("{}/_/ready", self.base_url());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(SandboxError::Setup(format!(
                        "postrust exited ({status}) while starting: {}",
                        util::log_tail(&self.log_path(), 2000)
                    )));
                }
            }
            if let Ok(response) = agent.get(&ready).call() {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(SandboxError::Setup(format!(
                    "postrust was not ready within 30 s: {}",
                    util::log_tail(&self.log_path(), 2000)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The REST base (tables at `{base}/decision_vault`, functions at `{base}/rpc/...`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last lines of the server's log (for failing tests).
    pub fn log_tail(&self) -> String {
        util::log_tail(&self.log_path(), 4000)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            util::stop_group(&mut child, libc::SIGTERM, Duration::from_secs(5));
        }
    }
}

impl Drop for Postrust {
    fn drop(&mut self) {
        self.stop();
        if !self.log_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}
