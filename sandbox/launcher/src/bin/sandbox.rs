//! `npm run sandbox`: PostgreSQL 15 + postrust-server + the Notion emulator on free local ports.
//! Prints the Worker's settings as `KEY=VALUE` lines (stdout; messages go to stderr), stays up
//! until Ctrl-C / SIGTERM / SIGHUP, then stops every process and removes every temp dir.
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use sync_sandbox::sandbox::parse_rate_limit;
use sync_sandbox::{Sandbox, SandboxOptions};

const USAGE: &str = "\
usage: sandbox [--env-file PATH] [--seed] [--notion-rate-limit off|N|N/BURST] [--exit-after SECONDS]

Starts an ephemeral PostgreSQL 15 cluster (with Supabase's roles and the migration),
postrust-server (PostgREST-compatible) in front of it, and the Notion emulator, then prints
the settings for .dev.vars as KEY=VALUE lines and stays up until stopped (Ctrl-C / SIGTERM).
SIGUSR1 stops PostgreSQL alone (a Supabase outage), SIGUSR2 starts it again (same port and
data); the printed SANDBOX_PG_STOP / SANDBOX_PG_START lines are those commands.

  --env-file PATH           also write the settings to PATH (mode 0600; removed on exit)
  --seed                    insert a few example decisions on each side
  --notion-rate-limit V     emulator rate limit: off, N requests/s, or N/BURST (default 3/10)
  --exit-after SECONDS      stop by itself after this long (for scripts)
";

struct Args {
    options: SandboxOptions,
    env_file: Option<std::path::PathBuf>,
    exit_after: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { options: SandboxOptions::default(), env_file: None, exit_after: None };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| iter.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--seed" => args.options.seed = true,
            "--env-file" => args.env_file = Some(value("--env-file")?.into()),
            "--notion-rate-limit" => args.options.notion_rate_limit = parse_rate_limit(&value("--notion-rate-limit")?)?,
            "--exit-after" => {
                let seconds: u64 = value("--exit-after")?
                    .parse()
                    .map_err(|_| "--exit-after needs a whole number of seconds".to_string())?;
                args.exit_after = Some(Duration::from_secs(seconds));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Writes the settings atomically (a reader never sees half a file), readable by the owner only.
fn write_env_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("sandbox-tmp");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sandbox: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Handlers first, so a Ctrl-C during start-up still cleans up.
    let signals = (
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()),
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()),
    );
    let outage = (
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()),
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2()),
    );
    let (mut term, mut hup, mut int, mut usr1, mut usr2) = match (signals, outage) {
        ((Ok(term), Ok(hup), Ok(int)), (Ok(usr1), Ok(usr2))) => (term, hup, int, usr1, usr2),
        _ => {
            eprintln!("sandbox: cannot install signal handlers");
            return ExitCode::from(1);
        }
    };

    eprintln!("sandbox: starting PostgreSQL 15, postrust-server and the Notion emulator…");
    let mut sandbox = match Sandbox::start(args.options).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("sandbox: {e}");
            return ExitCode::from(1);
        }
    };
    let pid = std::process::id();
    let lines = format!("{}SANDBOX_PG_STOP=kill -USR1 {pid}\nSANDBOX_PG_START=kill -USR2 {pid}\n", sandbox.env_lines());
    print!("{lines}");
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.env_file {
        if let Err(e) = write_env_file(path, &lines) {
            eprintln!("sandbox: cannot write {}: {e}", path.display());
            sandbox.shutdown().await;
            return ExitCode::from(1);
        }
        eprintln!("sandbox: settings written to {}", path.display());
    }
    eprintln!(
        "sandbox: ready (REST {} · Notion {} · psql {}); Ctrl-C to stop",
        sandbox.supabase().rest_url(),
        sandbox.notion().map(|n| n.url()).unwrap_or_default(),
        sandbox.supabase().pg_uri()
    );

    let deadline = async {
        match args.exit_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(deadline);
    let reason = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = hup.recv() => break "SIGHUP",
            _ = int.recv() => break "Ctrl-C",
            _ = &mut deadline => break "--exit-after",
            // On this (the main) thread, which started PostgreSQL: its children are tied to it.
            _ = usr1.recv() => {
                sandbox.supabase_mut().pg_mut().stop();
                eprintln!("sandbox: SIGUSR1: PostgreSQL stopped (SIGUSR2 starts it again)");
            }
            _ = usr2.recv() => match sandbox.supabase_mut().pg_mut().restart() {
                Ok(()) => eprintln!("sandbox: SIGUSR2: PostgreSQL running"),
                Err(e) => eprintln!("sandbox: SIGUSR2: PostgreSQL did not start again: {e}"),
            },
        }
    };
    eprintln!("sandbox: {reason}: stopping");
    sandbox.shutdown().await;
    if let Some(path) = &args.env_file {
        let _ = std::fs::remove_file(path);
    }
    eprintln!("sandbox: stopped");
    ExitCode::SUCCESS
}
