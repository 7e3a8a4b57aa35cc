//! An ephemeral PostgreSQL 15 cluster in a temp dir, removed (processes and files) on drop.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util;
use crate::SandboxError;

/// Where the PostgreSQL binaries are looked for (override with `SANDBOX_PG_BIN`).
pub const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The migration shipped with the Worker.
pub const MIGRATION_SQL: &str = include_str!("../../../supabase/migrations/20251123000000_decision_vault_sync.sql");
/// Its path, relative to the repository root (for messages).
pub const MIGRATION_PATH: &str = "supabase/migrations/20251123000000_decision_vault_sync.sql";
/// The opt-in webhook migration: only functions, which create the Database Webhook when called.
pub const WEBHOOK_MIGRATION_SQL: &str =
    include_str!("../../../supabase/migrations/20261202000000_decision_vault_webhook.sql");
pub const WEBHOOK_MIGRATION_PATH: &str = "supabase/migrations/20261202000000_decision_vault_webhook.sql";
/// Every migration in `supabase/migrations/`, in the order `supabase db push` applies them.
pub const MIGRATIONS: [(&str, &str); 2] =
    [(MIGRATION_PATH, MIGRATION_SQL), (WEBHOOK_MIGRATION_PATH, WEBHOOK_MIGRATION_SQL)];

/// The roles Supabase has, as the sandbox recreates them: `anon`, `authenticated`, `service_role`
/// (nologin; `service_role` bypasses RLS as on Supabase) and `authenticator` (login, noinherit,
/// granted the three: what PostgREST connects as and switches from).
pub const SUPABASE_ROLES_SQL: &str = r#"
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;
grant anon, authenticated, service_role to authenticator;
"#;

/// Grants Supabase gives its API roles on a new database's `public` schema.
pub const SUPABASE_SCHEMA_GRANTS_SQL: &str = r#"
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
"#;

/// A running cluster. Dropping it stops PostgreSQL and deletes its directory.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    child: Option<Child>,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster").field("dir", &self.dir).field("port", &self.port).finish()
    }
}

/// The directory holding `initdb`, `postgres` and `psql`, or a message saying how to install them.
pub fn pg_bin_dir() -> Result<PathBuf, SandboxError> {
    let dir = std::env::var_os("SANDBOX_PG_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_PG_BIN));
    for tool in ["initdb", "postgres", "psql"] {
        if !dir.join(tool).is_file() {
            return Err(SandboxError::Missing(format!(
                "PostgreSQL 15 binaries not found: {} is missing. Install them with \
                 `apt-get install postgresql-15` (or point SANDBOX_PG_BIN at a directory holding \
                 initdb, postgres and psql)",
                dir.join(tool).display()
            )));
        }
    }
    Ok(dir)
}

/// Removes cluster directories left by a sandbox that was killed (SIGKILL leaves no time to
/// clean up): only those older than ten minutes whose postmaster is not running.
pub fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("decision-sync-pg-"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(600));
        if !is_ours || !old {
            continue;
        }
        let running = std::fs::read_to_string(path.join("data").join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().and_then(|l| l.trim().parse::<i32>().ok()))
            // SAFETY: signal 0 only checks that the process exists.
            .is_some_and(|pid| pid > 0 && unsafe { libc::kill(pid, 0) } == 0);
        if !running {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl PgCluster {
    /// Creates and starts a cluster on a free port (trust authentication, 127.0.0.1 only).
    pub fn start() -> Result<PgCluster, SandboxError> {
        let bin = pg_bin_dir()?;
        remove_stale_clusters();
        let owner = util::postgres_identity()?;
        let dir = util::temp_dir("decision-sync-pg", owner)?;
        let mut cluster = PgCluster { dir, bin, port: 0, owner, child: None };
        cluster.init()?;
        // A port can be taken between the probe and the bind: try a few.
        let mut last_error = None;
        for _ in 0..5 {
            cluster.port = util::free_port()?;
            match cluster.launch() {
                Ok(()) => return Ok(cluster),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| SandboxError::Setup("PostgreSQL did not start".into())))
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bin.join(tool));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command.current_dir(&self.dir).env("LC_ALL", "C.UTF-8");
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    fn init(&self) -> Result<(), SandboxError> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SandboxError::Setup(format!("cannot run initdb: {e}")))?;
        if !output.status.success() {
            return Err(SandboxError::Setup(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<(), SandboxError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| SandboxError::Setup(format!("cannot open the PostgreSQL log: {e}")))?;
        let log_err =
            log.try_clone().map_err(|e| SandboxError::Setup(format!("cannot open the PostgreSQL log: {e}")))?;
        if let Some((uid, gid)) = self.owner {
            let _ = std::os::unix::fs::chown(self.log_path(), Some(uid), Some(gid));
        }
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=60", "-c", "shared_buffers=32MB"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        util::own_process_group(&mut command);
        let child = command.spawn().map_err(|e| SandboxError::Setup(format!("cannot start postgres: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(SandboxError::Setup(format!(
                        "postgres exited ({status}) while starting: {}",
                        util::log_tail(&self.log_path(), 2000)
                    )));
                }
            }
            if self.psql("postgres", "select 1").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(SandboxError::Setup(format!(
                    "postgres did not accept connections within 30 s: {}",
                    util::log_tail(&self.log_path(), 2000)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (data, log, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A connection string for `user` (no password: trust authentication on 127.0.0.1).
    pub fn uri(&self, user: &str, database: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL with psql as the superuser (`ON_ERROR_STOP`, one transaction per call), returning
    /// unaligned, tuples-only output (`|`-separated columns, one line per row).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, SandboxError> {
        self.psql_as("postgres", database, sql)
    }

    /// Same as [`PgCluster::psql`], connected as `user`.
    pub fn psql_as(&self, user: &str, database: &str, sql: &str) -> Result<String, SandboxError> {
        self.psql_runner(user, database).run(sql)
    }

    /// A handle that runs psql against `database` as `user` from any thread (it owns no process).
    pub fn psql_runner(&self, user: &str, database: &str) -> PsqlRunner {
        PsqlRunner { psql: self.bin.join("psql"), uri: self.uri(user, database) }
    }

    /// Creates a database with the Supabase roles and schema grants.
    pub fn create_database(&self, name: &str) -> Result<(), SandboxError> {
        self.psql("postgres", SUPABASE_ROLES_SQL)?;
        self.create_bare_database(name)?;
        self.psql(name, SUPABASE_SCHEMA_GRANTS_SQL)?;
        Ok(())
    }

    /// Creates an empty database (no roles or grants added: a bare PostgreSQL).
    pub fn create_bare_database(&self, name: &str) -> Result<(), SandboxError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(SandboxError::Setup(format!("bad database name {name:?}")));
        }
        // CREATE DATABASE cannot run inside the transaction `psql -1` opens.
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-d")
            .arg(self.uri("postgres", "postgres"))
            .arg("-c")
            .arg(format!("create database {name}"))
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SandboxError::Sql(format!("cannot run psql: {e}")))?;
        if !output.status.success() {
            return Err(SandboxError::Sql(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        Ok(())
    }

    /// Applies the shipped migrations to `database` (each in one transaction, in order).
    pub fn apply_migration(&self, database: &str) -> Result<(), SandboxError> {
        for (path, sql) in MIGRATIONS {
            self.psql(database, sql).map_err(|e| SandboxError::Sql(format!("applying {path} failed: {e}")))?;
        }
        Ok(())
    }

    /// Stops PostgreSQL (fast shutdown, then SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            util::stop_group(&mut child, libc::SIGINT, Duration::from_secs(10));
        }
    }

    /// True while the server this cluster started is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Starts the stopped server again on the same port and data (an outage that ends, for
    /// tests). A no-op while it runs. Call it from the thread that started the cluster.
    pub fn restart(&mut self) -> Result<(), SandboxError> {
        if self.is_running() {
            return Ok(());
        }
        self.stop();
        self.launch()
    }
}

/// Runs SQL with psql against one database (see [`PgCluster::psql_runner`]).
#[derive(Debug, Clone)]
pub struct PsqlRunner {
    psql: PathBuf,
    uri: String,
}

impl PsqlRunner {
    /// Runs `sql` (`ON_ERROR_STOP`, one transaction), returning unaligned, tuples-only output.
    pub fn run(&self, sql: &str) -> Result<String, SandboxError> {
        let output = Command::new(&self.psql)
            .args(["-X", "-q", "-A", "-t", "-1", "-v", "ON_ERROR_STOP=1"])
            .arg("-d")
            .arg(&self.uri)
            .arg("-f")
            .arg("-")
            .env("PGCONNECT_TIMEOUT", "5")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(sql.as_bytes())?;
                }
                child.wait_with_output()
            })
            .map_err(|e| SandboxError::Sql(format!("cannot run psql: {e}")))?;
        if !output.status.success() {
            return Err(SandboxError::Sql(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_string())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
