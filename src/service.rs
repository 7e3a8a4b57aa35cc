//! The sync as a service: settings + transport + state store + lock + clock → runs and health.
//! Runtime-agnostic: the Worker uses it with `fetch`/KV/Durable Objects, native tests and tools
//! with a blocking HTTP client and in-memory state.
use crate::clients::http::HttpTransport;
use crate::clients::notion::config::NotionConfig;
use crate::clients::notion::NotionClient;
use crate::clients::postgrest::client::PostgrestClient;
use crate::clients::postgrest::config::PostgrestConfig;
use crate::core::budget::Budget;
use crate::core::engine::{Engine, EngineConfig, RunRequest, RunResult};
use crate::core::error::PortError;
use crate::core::ports::{Clock, RunLock, StateStore, SupabasePort, Wired};
use crate::core::report::{RunOutcome, RunSummary};
use crate::core::state::SyncState;
use crate::health::{self, ConfigStatus, Health, SchemaCheck, SchemaStatus};
use crate::public;
use crate::settings::{Settings, SettingsError};

/// Budget for a live schema check (Notion discovery + schema, Supabase check).
const HEALTH_CHECK_BUDGET: u32 = 16;

/// What one run is asked for beyond a plain run.
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    /// Plan only: nothing is written, not even the state.
    pub dry_run: bool,
    /// An authenticated `allow-mass-delete=1`: this run's deletes pass the safety halt.
    pub allow_mass_delete: bool,
    /// Pages webhooks named since the last run (read directly when the windows do not).
    pub marked_pages: Vec<String>,
}

/// Everything one run or health check needs.
pub struct Service<'a, T, St, L, C> {
    pub settings: &'a Settings,
    pub transport: T,
    pub store: &'a St,
    pub lock: &'a L,
    pub clock: &'a C,
}

impl<'a, T, St, L, C> Service<'a, T, St, L, C>
where
    T: HttpTransport + Clone + 'static,
    St: StateStore,
    L: RunLock,
    C: Clock + Clone + 'static,
{
    fn clients(
        &self,
        budget: &Budget,
        cached_data_source: Option<&str>,
    ) -> Result<(PostgrestClient<T>, NotionClient<T>), PortError> {
        let postgrest = PostgrestClient::new(
            self.transport.clone(),
            PostgrestConfig::from_settings(self.settings)?,
            budget.clone(),
        );
        let clock = self.clock.clone();
        let notion =
            NotionClient::new(NotionConfig::from_settings(self.settings), self.transport.clone(), budget.clone())
                .with_clock(move || clock.now().timestamp_millis() as f64);
        notion.use_cached_data_source_id(cached_data_source);
        Ok((postgrest, notion))
    }

    /// One budgeted run (or a dry run). `Err` only when the run was aborted mid-way.
    pub async fn run(&self, run_id: &str, trigger: &str, dry_run: bool) -> Result<RunResult, PortError> {
        self.run_allowing(run_id, trigger, dry_run, false).await
    }

    /// [`Service::run`]; `allow_mass_delete` (an authenticated `allow-mass-delete=1`) lets this
    /// run's deletes pass the mass-delete safety halt.
    pub async fn run_allowing(
        &self,
        run_id: &str,
        trigger: &str,
        dry_run: bool,
        allow_mass_delete: bool,
    ) -> Result<RunResult, PortError> {
        self.run_with(run_id, trigger, RunFlags { dry_run, allow_mass_delete, marked_pages: Vec::new() }).await
    }

    /// One run as `flags` ask (see [`RunFlags`]).
    pub async fn run_with(&self, run_id: &str, trigger: &str, flags: RunFlags) -> Result<RunResult, PortError> {
        let RunFlags { dry_run, allow_mass_delete, marked_pages } = flags;
        let cached = self.store.load().await.ok().and_then(|state| state.data_source_id);
        let budget = Budget::new(self.settings.subrequest_budget);
        let (postgrest, notion) = match self.clients(&budget, cached.as_deref()) {
            Ok(clients) => clients,
            Err(error) => return Ok(self.record_unconfigured(run_id, trigger, dry_run, error.to_string()).await),
        };
        let engine = Engine {
            ports: Wired {
                supabase: &postgrest,
                notion: &notion,
                store: self.store,
                lock: self.lock,
                clock: self.clock,
            },
            config: EngineConfig {
                batch_size: self.settings.batch_size,
                lease_ttl_seconds: i64::from(self.settings.lease_ttl_seconds),
                mass_delete_share: self.settings.mass_delete_share,
                ..EngineConfig::default()
            },
        };
        let request = RunRequest {
            run_id: run_id.to_string(),
            trigger: trigger.to_string(),
            dry_run,
            budget,
            allow_mass_delete,
            marked_pages,
        };
        let mut result = engine.run(&request).await?;
        redact_summary(self.settings, &mut result.summary);
        Ok(result)
    }

    /// Live rows without a page, counted by PostgREST (one request): a drain's exact backlog.
    pub async fn unlinked_backlog(&self) -> Result<u32, PortError> {
        let postgrest = PostgrestClient::new(
            self.transport.clone(),
            PostgrestConfig::from_settings(self.settings)?,
            Budget::new(1),
        );
        postgrest.count_unlinked().await
    }

    /// Records a run that could not start because of its settings (saved as `last_run`).
    async fn record_unconfigured(&self, run_id: &str, trigger: &str, dry_run: bool, message: String) -> RunResult {
        let summary =
            RunSummary::not_configured(run_id, trigger, dry_run, self.clock.now(), self.settings.redact(&message));
        if !dry_run {
            record_summary(self.store, &summary).await;
        }
        RunResult { summary, plan: Default::default() }
    }

    /// `/health` from the saved state only (the schema as the runs last checked it): no request
    /// to Notion or Supabase, whoever asks and however often.
    pub async fn health(&self, config: ConfigStatus) -> Health {
        let state = self.store.load().await.unwrap_or_default();
        self.report(&state, config)
    }

    /// The report of `state`, secrets redacted.
    pub(crate) fn report(&self, state: &SyncState, config: ConfigStatus) -> Health {
        let health = health::build(state, config, health::stored_schema(state), self.clock.now());
        public::map_text(health, &|text| self.settings.redact(text))
    }

    /// A configuration error is a problem to fix; anything else means the service is unreachable.
    fn failed_check(&self, error: &PortError) -> SchemaCheck {
        let message = self.settings.redact(&error.to_string());
        match error {
            PortError::Config { .. } | PortError::Record { .. } => SchemaCheck::Problem { message },
            _ => SchemaCheck::Unreachable { message },
        }
    }

    /// Live schema checks of both sides (the admin's `POST /health/check`; see `live_check`).
    pub(crate) async fn schema_status(&self, cached_data_source: Option<&str>) -> SchemaStatus {
        let budget = Budget::new(HEALTH_CHECK_BUDGET);
        let (postgrest, notion) = match self.clients(&budget, cached_data_source) {
            Ok(clients) => clients,
            Err(error) => {
                let problem = SchemaCheck::Problem { message: self.settings.redact(&error.to_string()) };
                return SchemaStatus { supabase: problem.clone(), notion: problem };
            }
        };
        let supabase = match postgrest.check_schema().await {
            Ok(()) => match postgrest.write_back_note() {
                Some(note) if postgrest.write_back_function() == Some(false) => SchemaCheck::Warning { message: note },
                _ => SchemaCheck::Ok,
            },
            Err(error) => self.failed_check(&error),
        };
        let notion = match notion.inspect_schema().await {
            Ok(check) => match check.into_result() {
                Ok(()) => SchemaCheck::Ok,
                Err(error) => SchemaCheck::Problem { message: self.settings.redact(&error.to_string()) },
            },
            Err(error) => self.failed_check(&error),
        };
        SchemaStatus { supabase, notion }
    }
}

/// Keeps secrets out of everything a run reports.
fn redact_summary(settings: &Settings, summary: &mut RunSummary) {
    match &mut summary.outcome {
        RunOutcome::NotConfigured { message } | RunOutcome::Failed { message } => *message = settings.redact(message),
        RunOutcome::Partial { reason } => *reason = settings.redact(reason),
        RunOutcome::Ok | RunOutcome::Skipped { .. } => {}
    }
    for issue in &mut summary.errors {
        issue.reason = settings.redact(&issue.reason);
    }
}

/// Saves `summary` as the last run (state kept otherwise). Failures are the caller's to log.
pub async fn record_summary<St: StateStore>(store: &St, summary: &RunSummary) -> Option<PortError> {
    let mut state: SyncState = match store.load().await {
        Ok(state) => state,
        Err(error) => return Some(error),
    };
    state.last_run = Some(summary.clone());
    state.totals.runs += 1;
    store.save(&state).await.err()
}

/// Settings errors as a health config status.
pub fn config_status(result: &Result<Settings, SettingsError>, admin_token_set: bool) -> ConfigStatus {
    let (missing, invalid) = match result {
        Ok(_) => (Vec::new(), Vec::new()),
        Err(SettingsError::Missing(names)) => (names.clone(), Vec::new()),
        Err(error @ SettingsError::Invalid { .. }) => (Vec::new(), vec![error.to_string()]),
    };
    let mut missing = missing;
    if !admin_token_set {
        missing.push(crate::settings::ADMIN_TOKEN.to_string());
    }
    ConfigStatus { missing, invalid, admin_routes_enabled: admin_token_set }
}
