//! A Supabase stand-in: PostgreSQL 15 with Supabase's roles, the migration, and postrust-server in
//! front, with a random JWT secret and a `service_role` key signed with it.
use crate::jwt;
use crate::postgres::PgCluster;
use crate::postrust::Postrust;
use crate::util;
use crate::webhook_delivery::{self, DeliveryOptions, WebhookDelivery};
use crate::SandboxError;

/// What to set up.
#[derive(Debug, Clone)]
pub struct SupabaseOptions {
    /// Database name inside the cluster.
    pub database: String,
    /// Apply the shipped migration before postrust starts.
    pub migrate: bool,
    /// SQL run after the migration (if any) and before postrust starts.
    pub setup_sql: Option<String>,
}

impl Default for SupabaseOptions {
    fn default() -> Self {
        SupabaseOptions { database: "sandbox".into(), migrate: true, setup_sql: None }
    }
}

/// PostgreSQL + postrust. Fields drop in order: the webhook delivery loop, postrust, then the cluster.
pub struct SupabaseSandbox {
    /// Delivers what the pg_net stand-in queues (Database Webhooks), see [`webhook_delivery`].
    webhooks: Option<WebhookDelivery>,
    rest: Postrust,
    jwt_secret: String,
    service_role_key: String,
    anon_key: String,
    database: String,
    pg: PgCluster,
}

impl std::fmt::Debug for SupabaseSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupabaseSandbox")
            .field("rest", &self.rest)
            .field("database", &self.database)
            .field("pg", &self.pg)
            .finish()
    }
}

impl SupabaseSandbox {
    /// Starts a fresh cluster, creates the database and roles, installs the pg_net stand-in,
    /// migrates, starts postrust and the webhook delivery loop.
    pub fn start(options: SupabaseOptions) -> Result<SupabaseSandbox, SandboxError> {
        // Fail fast (before initdb) when postrust is missing.
        crate::postrust::postrust_binary()?;
        let pg = PgCluster::start()?;
        pg.create_database(&options.database)?;
        webhook_delivery::install(&pg, &options.database)?;
        if options.migrate {
            pg.apply_migration(&options.database)?;
        }
        if let Some(sql) = &options.setup_sql {
            pg.psql(&options.database, sql)?;
        }
        let jwt_secret = util::random_hex(32)?;
        let rest = Postrust::start(&pg, &options.database, &jwt_secret)?;
        let service_role_key = jwt::supabase_key(&jwt_secret, "service_role");
        let anon_key = jwt::supabase_key(&jwt_secret, "anon");
        let webhooks =
            WebhookDelivery::start(pg.psql_runner("postgres", &options.database), DeliveryOptions::default())?;
        Ok(SupabaseSandbox {
            webhooks: Some(webhooks),
            rest,
            jwt_secret,
            service_role_key,
            anon_key,
            database: options.database,
            pg,
        })
    }

    pub fn pg(&self) -> &PgCluster {
        &self.pg
    }

    pub fn rest(&self) -> &Postrust {
        &self.rest
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The PostgREST base (`SUPABASE_REST_URL`).
    pub fn rest_url(&self) -> String {
        self.rest.base_url()
    }

    pub fn jwt_secret(&self) -> &str {
        &self.jwt_secret
    }

    /// A legacy-style (JWT) `service_role` key.
    pub fn service_role_key(&self) -> &str {
        &self.service_role_key
    }

    /// A legacy-style (JWT) `anon` key.
    pub fn anon_key(&self) -> &str {
        &self.anon_key
    }

    /// `psql` connection string for the superuser.
    pub fn pg_uri(&self) -> String {
        self.pg.uri("postgres", &self.database)
    }

    /// Runs SQL in the sandbox database as the superuser.
    pub fn sql(&self, sql: &str) -> Result<String, SandboxError> {
        self.pg.psql(&self.database, sql)
    }

    /// Starts a second postrust on another database of the same cluster (same JWT secret).
    pub fn extra_rest(&self, options: &SupabaseOptions) -> Result<Postrust, SandboxError> {
        self.pg.create_database(&options.database)?;
        if options.migrate {
            self.pg.apply_migration(&options.database)?;
        }
        if let Some(sql) = &options.setup_sql {
            self.pg.psql(&options.database, sql)?;
        }
        Postrust::start(&self.pg, &options.database, &self.jwt_secret)
    }

    /// The cluster, to stop and restart PostgreSQL alone (postrust stays up and reconnects).
    pub fn pg_mut(&mut self) -> &mut PgCluster {
        &mut self.pg
    }

    /// Stops the webhook delivery loop, postrust and PostgreSQL now (also done on drop).
    pub fn stop(&mut self) {
        if let Some(mut webhooks) = self.webhooks.take() {
            webhooks.stop();
        }
        self.rest.stop();
        self.pg.stop();
    }
}

impl SupabaseSandbox {
    /// The Worker's real PostgREST client, over a blocking [`UreqTransport`], pointed at this
    /// sandbox with its `service_role` key (drive it with `futures::executor::block_on`).
    pub fn client(
        &self,
        budget: decision_sync::core::budget::Budget,
    ) -> Result<decision_sync::clients::postgrest::PostgrestClient<crate::UreqTransport>, SandboxError> {
        client_for(&self.rest_url(), &self.service_role_key, budget)
    }
}

/// The Worker's PostgREST client over a blocking transport, for any PostgREST base and key.
pub fn client_for(
    rest_url: &str,
    key: &str,
    budget: decision_sync::core::budget::Budget,
) -> Result<decision_sync::clients::postgrest::PostgrestClient<crate::UreqTransport>, SandboxError> {
    let config = decision_sync::clients::postgrest::PostgrestConfig::new(rest_url, key, 2)
        .map_err(|e| SandboxError::Setup(e.to_string()))?;
    Ok(decision_sync::clients::postgrest::PostgrestClient::new(crate::UreqTransport::new(), config, budget))
}
