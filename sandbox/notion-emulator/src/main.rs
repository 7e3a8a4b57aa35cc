//! `notion-emulator --port 0 --token T ...`: prints one JSON line
//! `{"url":..,"database_id":..,"data_source_id":..,"token":..}` and serves until killed.

use notion_emulator::{localhost, spawn, EmulatorConfig};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: notion-emulator [options]
  --port N              port on 127.0.0.1 (default 0: any free port)
  --token T             bearer token the API accepts
  --database-id UUID    id of the main database (default: random)
  --data-source-id UUID id of its data source (default: random)
  --rate-limit R[,B]    average requests/second and burst (default 3,10), or `off`
  --bot-user-id UUID    user id of the integration (API writes)
  --human-user-id UUID  user id of the person (admin edits)
  --help";

fn parse(args: &[String]) -> Result<(u16, EmulatorConfig), String> {
    let mut cfg = EmulatorConfig::default();
    let mut port = 0u16;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                port = value()?
                    .parse()
                    .map_err(|_| "--port needs a number 0-65535".to_string())?
            }
            "--token" => cfg.token = value()?,
            "--database-id" => cfg.database_id = value()?,
            "--data-source-id" => cfg.data_source_id = value()?,
            "--bot-user-id" => cfg.bot_user_id = value()?,
            "--human-user-id" => cfg.human_user_id = value()?,
            "--rate-limit" => {
                let v = value()?;
                cfg.rate_limit = if v == "off" || v == "none" {
                    None
                } else {
                    let (r, b) = v.split_once(',').unwrap_or((v.as_str(), "10"));
                    let r: f64 = r
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad --rate-limit {v:?}"))?;
                    let b: u32 = b
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad --rate-limit {v:?}"))?;
                    if !(r > 0.0 && b > 0) {
                        return Err("--rate-limit needs a positive rate and burst".into());
                    }
                    Some((r, b))
                };
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((port, cfg))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, cfg) = match parse(&args) {
        Ok(x) => x,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("notion-emulator: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let emu = match spawn(cfg, localhost(port)).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("notion-emulator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", emu.announce());
    let _ = out.flush();
    drop(out);
    match emu.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notion-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
