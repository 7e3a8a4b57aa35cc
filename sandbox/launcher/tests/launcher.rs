//! The launcher: the library's `Sandbox` and the `sandbox` binary (settings printed, seed,
//! clean stop on SIGTERM with nothing left behind).
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sync_sandbox::{Sandbox, SandboxOptions};

const KEYS: [&str; 9] = [
    "SUPABASE_URL",
    "SUPABASE_REST_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "NOTION_API_KEY",
    "NOTION_DATABASE_ID",
    "NOTION_API_BASE",
    "SYNC_ADMIN_TOKEN",
    "SANDBOX_PG_URI",
    "SANDBOX_NOTION_ADMIN",
];

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut request = agent.get(url).header("Notion-Version", "2025-09-03");
    if let Some(token) = bearer {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    match request.call() {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut body = String::new();
            let _ = response.body_mut().as_reader().read_to_string(&mut body);
            (status, body)
        }
        Err(e) => (0, e.to_string()),
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).unwrap()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

#[test]
fn library_sandbox_serves_both_sides_with_the_printed_settings() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sandbox = runtime
        .block_on(Sandbox::start(SandboxOptions { seed: true, notion_rate_limit: None, ..SandboxOptions::default() }))
        .unwrap_or_else(|e| panic!("cannot start the sandbox: {e}"));
    let env = parse_env(&sandbox.env_lines());
    for key in KEYS {
        assert!(env.get(key).is_some_and(|v| !v.is_empty()), "{key} is printed");
    }
    assert_eq!(env["SUPABASE_REST_URL"], sandbox.supabase().rest_url());
    // Supabase side: the seed rows, through the REST API with the printed key.
    let (status, body) = get(
        &format!("{}/decision_vault?select=decision&order=date", env["SUPABASE_REST_URL"]),
        Some(&env["SUPABASE_SERVICE_ROLE_KEY"]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap().len(), 3);
    // Notion side: the database with its data source, and the seed pages.
    let (status, body) = get(
        &format!("{}/v1/databases/{}", env["NOTION_API_BASE"], env["NOTION_DATABASE_ID"]),
        Some(&env["NOTION_API_KEY"]),
    );
    assert_eq!(status, 200, "{body}");
    let database: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(database["data_sources"].as_array().map(Vec::len), Some(1));
    let (status, body) = get(&format!("{}/pages", env["SANDBOX_NOTION_ADMIN"]), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["results"].as_array().map(Vec::len), Some(2));
    // psql reaches the database with SANDBOX_PG_URI.
    assert_eq!(sandbox.supabase().sql("select count(*) from decision_vault").unwrap(), "3");
    let dir = sandbox.supabase().pg().dir().to_path_buf();
    let ports = [port_of(&env["SUPABASE_REST_URL"]), port_of(&env["NOTION_API_BASE"]), sandbox.supabase().pg().port()];
    runtime.block_on(sandbox.shutdown());
    assert!(!dir.exists(), "the cluster's temp dir is removed");
    for port in ports {
        assert!(!listening(port), "port {port} is closed after shutdown");
    }
}

#[test]
fn binary_prints_settings_writes_the_env_file_and_cleans_up_on_sigterm() {
    let env_file = std::env::temp_dir().join(format!("sandbox-test-{}.env", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .args(["--env-file", &env_file.to_string_lossy(), "--notion-rate-limit", "5/5", "--exit-after", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    /// Stops the child if the test fails before it is reaped (disarmed once it is).
    struct Kill(Option<u32>);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                // SAFETY: plain syscall on our own, not yet reaped, child.
                unsafe {
                    libc::kill(pid as i32, libc::SIGTERM);
                }
            }
        }
    }
    let mut guard = Kill(Some(child.id()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env_file.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            guard.0 = None;
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut s| s.read_to_string(&mut err));
            panic!("the sandbox exited early ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "no env file within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let written = std::fs::read_to_string(&env_file).unwrap();
    let env = parse_env(&written);
    for key in KEYS {
        assert!(env.contains_key(key), "{key} in the env file");
    }
    let (status, _) = get(&format!("{}/rate_limit", env["SANDBOX_NOTION_ADMIN"]), None);
    assert_eq!(status, 200);
    let pg_port = port_of(env["SANDBOX_PG_URI"].trim_end_matches("/sandbox"));
    let rest_port = port_of(&env["SUPABASE_REST_URL"]);
    assert!(listening(pg_port) && listening(rest_port));

    // SIGUSR1 / SIGUSR2 (the printed SANDBOX_PG_STOP / SANDBOX_PG_START): a PostgreSQL outage.
    assert_eq!(env["SANDBOX_PG_STOP"], format!("kill -USR1 {}", child.id()));
    assert_eq!(env["SANDBOX_PG_START"], format!("kill -USR2 {}", child.id()));
    let wait_for = |up: bool, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while listening(pg_port) != up {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGUSR1);
    }
    wait_for(false, "PostgreSQL still listening after SIGUSR1");
    assert!(listening(rest_port), "postrust stays up during the outage");
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGUSR2);
    }
    wait_for(true, "PostgreSQL not back after SIGUSR2");
    let (status, body) =
        get(&format!("{}/decision_vault?select=id", env["SUPABASE_REST_URL"]), Some(&env["SUPABASE_SERVICE_ROLE_KEY"]));
    assert_eq!((status, body.as_str()), (200, "[]"), "postrust reaches PostgreSQL again");

    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let output = child.wait_with_output().unwrap();
    guard.0 = None;
    assert!(output.status.success(), "{:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim_end(), written.trim_end(), "stdout has exactly the KEY=VALUE lines");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIGTERM: stopping") && stderr.contains("stopped"), "{stderr}");
    assert!(!env_file.exists(), "the env file is removed on exit");
    assert!(!listening(pg_port) && !listening(rest_port), "PostgreSQL and postrust are stopped");
}

#[test]
fn binary_rejects_bad_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_sandbox")).args(["--notion-rate-limit", "fast"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected `off`, N or N/BURST"));
    let help = Command::new(env!("CARGO_BIN_EXE_sandbox")).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--env-file PATH"));
}
