//! `notion-emulator --port 0 --token T ...`: prints one JSON line
//! `{"url":..,"database_id":..,"data_source_id":..,"token":..}` and serves until killed.

use notion_emulator::webhook::SubscriptionSpec;
use notion_emulator::{localhost, spawn, EmulatorConfig, InTrashReading};
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: notion-emulator [options]
  --port N              port on 127.0.0.1 (default 0: any free port)
  --token T             bearer token the API accepts
  --database-id UUID    id of the main database (default: random)
  --data-source-id UUID id of its data source (default: random)
  --rate-limit R[,B]    token bucket: average requests/second and burst (default 3,10), or `off`
  --rate-limit-window N[,S]
                        the documented model instead: N requests per S-second window per
                        connection (default S 60; Notion: 180, or 600 on Business/Enterprise)
  --workspace-limit N[,S]
                        documented model: N requests per S-second window for the workspace
                        (default S 300), answered with public_api_space_request_rate_limit
  --query-result-limit N
                        results one query may return across its pages (default 10000)
  --notion-versions V[,V...]
                        Notion-Version values accepted (default 2025-09-03,2026-03-11;
                        2026-12-01 is modelled too)
  --in-trash-reading R  in_trash in a query body: only_trashed (default), ignored, rejected
  --bot-user-id UUID    user id of the integration (API writes)
  --human-user-id UUID  user id of the person (admin edits)
  --webhook-url URL     subscribe an http:// endpoint to webhook events at start (verification
                        request first, then signed events; see /__admin/webhooks)
  --webhook-token T     the subscription's verification token (default: random secret_…)
  --webhook-options JSON
                        delivery options, e.g. {\"aggregation_ms\":200,\"retry_base_ms\":50}
  --help";

fn parse(args: &[String]) -> Result<(u16, EmulatorConfig), String> {
    let mut cfg = EmulatorConfig::default();
    let mut port = 0u16;
    let mut webhook = WebhookFlags::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => port = value()?.parse().map_err(|_| "--port needs a number 0-65535".to_string())?,
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
                    let r: f64 = r.trim().parse().map_err(|_| format!("bad --rate-limit {v:?}"))?;
                    let b: u32 = b.trim().parse().map_err(|_| format!("bad --rate-limit {v:?}"))?;
                    if !(r > 0.0 && b > 0) {
                        return Err("--rate-limit needs a positive rate and burst".into());
                    }
                    Some((r, b))
                };
            }
            "--rate-limit-window" | "--workspace-limit" => {
                let v = value()?;
                let (n, s) = count_per_window(flag, &v)?;
                let mut spec = cfg.documented_rate_limit.take().unwrap_or_default();
                if flag == "--rate-limit-window" {
                    spec.requests_per_window = n;
                    spec.window_seconds = s.unwrap_or(60);
                } else {
                    spec.workspace_requests_per_window = Some(n);
                    spec.workspace_window_seconds = s.unwrap_or(300);
                }
                cfg.documented_rate_limit = Some(spec);
            }
            "--query-result-limit" => {
                cfg.query_result_limit = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| "--query-result-limit needs a positive number".to_string())?
            }
            "--notion-versions" => {
                cfg.notion_versions =
                    value()?.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
            }
            "--in-trash-reading" => cfg.in_trash_reading = InTrashReading::parse(&value()?)?,
            "--webhook-url" => webhook.url = Some(value()?),
            "--webhook-token" => webhook.token = Some(value()?),
            "--webhook-options" => webhook.options = Some(value()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    cfg.webhook = webhook.spec()?;
    Ok((port, cfg))
}

/// The `--webhook-*` flags, combined once all are read.
#[derive(Default)]
struct WebhookFlags {
    url: Option<String>,
    token: Option<String>,
    options: Option<String>,
}

impl WebhookFlags {
    fn spec(self) -> Result<Option<SubscriptionSpec>, String> {
        let Some(url) = self.url else {
            return match (self.token, self.options) {
                (None, None) => Ok(None),
                _ => Err("--webhook-token and --webhook-options need --webhook-url".into()),
            };
        };
        let mut body: Value = match self.options {
            Some(text) => serde_json::from_str(&text).map_err(|e| format!("--webhook-options is not JSON: {e}"))?,
            None => json!({}),
        };
        let object = body.as_object_mut().ok_or("--webhook-options must be a JSON object")?;
        object.insert("url".into(), json!(url));
        if let Some(token) = self.token {
            object.insert("verification_token".into(), json!(token));
        }
        SubscriptionSpec::from_json(&body).map(Some).map_err(|e| format!("webhook: {e}"))
    }
}

/// `N[,S]`: a positive request count and an optional positive window in seconds.
fn count_per_window(flag: &str, v: &str) -> Result<(u32, Option<u64>), String> {
    let bad = || format!("{flag} needs N[,S] (positive requests, seconds), not {v:?}");
    let (n, s) = match v.split_once(',') {
        Some((n, s)) => (n, Some(s)),
        None => (v, None),
    };
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let s = match s {
        Some(s) => Some(s.trim().parse::<u64>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
        None => None,
    };
    Ok((n, s))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_the_documented_switches() {
        let (_, cfg) = parse(&args(
            "--rate-limit-window 180 --workspace-limit 500,120 --query-result-limit 50 \
             --notion-versions 2026-03-11,2026-12-01 --in-trash-reading rejected",
        ))
        .expect("parses");
        let spec = cfg.documented_rate_limit.expect("documented model");
        assert_eq!((spec.requests_per_window, spec.window_seconds), (180, 60));
        assert_eq!((spec.workspace_requests_per_window, spec.workspace_window_seconds), (Some(500), 120));
        assert_eq!(cfg.query_result_limit, 50);
        assert_eq!(cfg.notion_versions, ["2026-03-11", "2026-12-01"]);
        assert_eq!(cfg.in_trash_reading, InTrashReading::Rejected);
        assert!(parse(&args("--rate-limit-window 0")).is_err());
        assert!(parse(&args("--rate-limit-window 10,x")).is_err());
        assert!(parse(&args("--query-result-limit 0")).is_err());
        assert!(parse(&args("--in-trash-reading maybe")).is_err());
    }

    #[test]
    fn defaults_keep_todays_behaviour() {
        let (_, cfg) = parse(&[]).expect("parses");
        assert_eq!(cfg.rate_limit, Some((3.0, 10)));
        assert!(cfg.documented_rate_limit.is_none());
        assert_eq!(cfg.query_result_limit, 10_000);
        assert_eq!(cfg.notion_versions, ["2025-09-03", "2026-03-11"]);
        assert_eq!(cfg.in_trash_reading, InTrashReading::OnlyTrashed);
        assert!(cfg.webhook.is_none());
    }

    #[test]
    fn parses_the_webhook_switches() {
        let mut a = args("--webhook-url http://127.0.0.1:8787/webhooks/notion --webhook-token secret_x");
        a.extend(["--webhook-options".to_string(), r#"{"aggregation_ms": 0, "duplicate": true}"#.to_string()]);
        let (_, cfg) = parse(&a).expect("parses");
        let spec = cfg.webhook.expect("a subscription");
        assert_eq!(spec.url, "http://127.0.0.1:8787/webhooks/notion");
        assert_eq!(spec.verification_token.as_deref(), Some("secret_x"));
        assert_eq!(spec.options.aggregation_ms, 0);
        assert!(spec.options.duplicate);
        assert!(parse(&args("--webhook-token t")).is_err());
        assert!(parse(&args("--webhook-url https://x")).is_err());
    }
}
