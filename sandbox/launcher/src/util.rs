//! Small process, port, file and randomness helpers shared by the sandbox's services.
use std::ffi::CString;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::SandboxError;

/// A free TCP port on 127.0.0.1 (bound, read, released: the caller binds it right after).
pub fn free_port() -> Result<u16, SandboxError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| SandboxError::Setup(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    let port = listener.local_addr().map_err(|e| SandboxError::Setup(format!("cannot read a bound port: {e}")))?.port();
    Ok(port)
}

/// `n` random bytes from the kernel, hex-encoded.
pub fn random_hex(n: usize) -> Result<String, SandboxError> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| SandboxError::Setup(format!("cannot read /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The uid/gid processes of the PostgreSQL cluster run as: the `postgres` user when we are root
/// (`initdb` and `postgres` refuse to run as root), or ourselves otherwise.
pub fn postgres_identity() -> Result<Option<(u32, u32)>, SandboxError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres").map_err(|e| SandboxError::Setup(e.to_string()))?;
    // SAFETY: `name` is a valid NUL-terminated string; the returned pointer is read at once,
    // before any other call that could overwrite the static buffer.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(SandboxError::Missing(
            "running as root, but there is no `postgres` user to run PostgreSQL as \
             (install PostgreSQL 15 with `apt-get install postgresql-15`, which creates it, \
             or run the sandbox as a normal user)"
                .into(),
        ));
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

/// A fresh private directory under the system temp dir, owned by `owner` when given.
pub fn temp_dir(prefix: &str, owner: Option<(u32, u32)>) -> Result<PathBuf, SandboxError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let path = std::env::temp_dir().join(format!("{prefix}-{}", random_hex(6)?));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|e| SandboxError::Setup(format!("cannot create {}: {e}", path.display())))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .map_err(|e| SandboxError::Setup(format!("cannot chown {}: {e}", path.display())))?;
    }
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
    Ok(path)
}

/// Makes `command` the leader of a new process group (so the whole group can be signalled), and
/// asks the kernel to kill it if the thread that spawned it dies (a crashed test or launcher
/// leaves nothing behind). Spawn from a long-lived thread: the signal follows the spawning thread.
pub fn own_process_group(command: &mut Command) {
    command.process_group(0);
    // SAFETY: prctl and getppid are async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
}

/// Sends `signal` to the process group led by `child`.
pub fn signal_group(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain syscall; a stale group id only yields ESRCH.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Sends `signal` to the process itself (not its group).
pub fn signal_process(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain syscall.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Waits up to `timeout` for `child` to exit; true when it did.
pub fn wait_for_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

/// Stops a process group: `first` signal to the leader, a grace period, then SIGKILL to the group.
pub fn stop_group(child: &mut Child, first: libc::c_int, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        signal_group(child, libc::SIGKILL);
        return;
    }
    signal_process(child, first);
    if !wait_for_exit(child, grace) {
        signal_group(child, libc::SIGKILL);
        let _ = child.wait();
    }
    // Anything left in the group (e.g. a PostgreSQL backend) goes too.
    signal_group(child, libc::SIGKILL);
}

/// The last `max` bytes of a log file, for error messages.
pub fn log_tail(path: &Path, max: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max);
            String::from_utf8_lossy(&bytes[start..]).trim().to_string()
        }
        Err(_) => String::new(),
    }
}

/// Finds an executable: `env_var` when set, else each of `names` in `PATH` and in `extra_dirs`.
pub fn find_binary(env_var: &str, names: &[&str], extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(extra_dirs.iter().cloned());
    for dir in dirs {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// `~/.cargo/bin` (or `$CARGO_HOME/bin`).
pub fn cargo_bin_dir() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo").join("bin"));
    }
    dirs
}
