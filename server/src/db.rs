//! The database: the forward-only migrations, `db-setup` (the app role and its
//! privileges) and the app's connection pool.

use std::borrow::Cow;

use sqlx_core::executor::Executor;
use sqlx_core::migrate::{Migration, MigrationType, Migrator};
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Connections of the app's pool: a push holds one for its transaction; 2 cores and a
/// few dozen devices syncing at once need no more.
pub const POOL_CONNECTIONS_MAX: u32 = 32;
/// How long a request waits for a free connection before answering 503.
const POOL_ACQUIRE_TIMEOUT_S: u64 = 10;

/// The migrations, embedded in the binary, applied in order and never edited once
/// shipped (STYLE.md §9).
pub fn migrator() -> Migrator {
    let migration = |version: i64, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(description),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )
    };
    Migrator {
        migrations: Cow::Owned(vec![
            migration(1, "sync", include_str!("../migrations/0001_sync.sql")),
            migration(2, "portal", include_str!("../migrations/0002_portal.sql")),
            migration(3, "notify", include_str!("../migrations/0003_notify.sql")),
            migration(
                4,
                "analytics",
                include_str!("../migrations/0004_analytics.sql"),
            ),
            migration(
                5,
                "feed by day",
                include_str!("../migrations/0005_feed_by_day.sql"),
            ),
            migration(6, "library", include_str!("../migrations/0006_library.sql")),
        ]),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// The highest migration version this build knows.
pub fn latest_migration() -> i64 {
    migrator().iter().map(|m| m.version).max().unwrap_or(0)
}

/// SQLSTATE of CREATE ROLE for a role that exists.
const DUPLICATE_OBJECT: &str = "42710";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("connecting as the admin: {0}")]
    Connect(sqlx_core::Error),
    #[error("migrating: {0}")]
    Migrate(#[from] sqlx_core::migrate::MigrateError),
    #[error("{0}")]
    Sql(#[from] sqlx_core::Error),
}

/// Prepares a database for the server: creates `app_role` (LOGIN, with `app_password`)
/// if it is missing, runs the migrations as the admin (the owner of every table), and
/// grants the app role what the server needs and no more: SELECT and INSERT only on the
/// append-only `events`, `ledger` and `alerts`, ordinary DML on the rest. Safe to run
/// again (after an upgrade it applies the new migrations and refreshes the grants).
pub async fn db_setup(
    admin_url: &str,
    app_role: &str,
    app_password: &str,
) -> Result<(), SetupError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .map_err(SetupError::Connect)?;
    // DDL takes no binds: let PostgreSQL quote the name and the password itself. A role
    // created by a concurrent setup between our check and our CREATE is altered instead.
    let role_statement = |verb: &'static str| {
        query_scalar::<_, String>(
            "SELECT format('%s ROLE %I LOGIN PASSWORD %L', $1::text, $2::text, $3::text)",
        )
        .bind(verb)
        .bind(app_role)
        .bind(app_password)
        .fetch_one(&pool)
    };
    let role_exists: bool =
        query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(app_role)
            .fetch_one(&pool)
            .await?;
    let mut created = false;
    if !role_exists {
        match pool.execute(role_statement("CREATE").await?.as_str()).await {
            Ok(_) => created = true,
            Err(error)
                if error.as_database_error().and_then(|e| e.code()).as_deref()
                    == Some(DUPLICATE_OBJECT) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if !created {
        pool.execute(role_statement("ALTER").await?.as_str())
            .await?;
    }

    migrator().run(&pool).await?;

    let role: String = query_scalar("SELECT format('%I', $1::text)")
        .bind(app_role)
        .fetch_one(&pool)
        .await?;
    let grants = format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON events, ledger, alerts FROM {role};
         REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM {role};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role};"
    );
    pool.execute(grants.as_str()).await?;
    pool.close().await;
    Ok(())
}

/// The URL of the same database as `admin_url`, for `role` with `password`.
pub fn url_as(admin_url: &str, role: &str, password: &str) -> Result<String, sqlx_core::Error> {
    let options: PgConnectOptions = admin_url.parse()?;
    let database = options.get_database().unwrap_or("postgres");
    Ok(format!(
        "postgres://{}:{}@{}:{}/{}",
        percent(role),
        percent(password),
        options.get_host(),
        options.get_port(),
        percent(database)
    ))
}

fn percent(text: &str) -> String {
    sqlx_core::percent_encoding::utf8_percent_encode(
        text,
        sqlx_core::percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string()
}

/// The app's pool.
pub async fn connect(database_url: &str) -> Result<PgPool, sqlx_core::Error> {
    PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS_MAX)
        .acquire_timeout(std::time::Duration::from_secs(POOL_ACQUIRE_TIMEOUT_S))
        .connect(database_url)
        .await
}

/// Whether the database answers and holds every migration this build knows.
pub async fn ready(pool: &PgPool) -> Result<(), String> {
    let applied: Option<i64> =
        query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(|error| format!("the database does not answer: {error}"))?;
    let latest = latest_migration();
    match applied {
        Some(version) if version >= latest => Ok(()),
        other => Err(format!(
            "the database is at migration {} but this server needs {latest}: run `schoolcard-server db-setup`",
            other.unwrap_or(0)
        )),
    }
}

/// Creates a database (for a test or a bench run) in the cluster of `admin_url` and
/// answers the admin URL of the new database.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String, sqlx_core::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    let statement: String = query_scalar("SELECT format('CREATE DATABASE %I', $1::text)")
        .bind(name)
        .fetch_one(&pool)
        .await?;
    pool.execute(statement.as_str()).await?;
    pool.close().await;
    Ok(with_database(admin_url, name))
}

/// `url` with its database (the path) replaced by `database`; user, password, host and
/// query stay as they are.
pub fn with_database(url: &str, database: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let path_start = url[after_scheme..].find('/').map(|at| after_scheme + at);
    let query_start = url.find('?');
    let head = &url[..path_start.or(query_start).unwrap_or(url.len())];
    let tail = query_start.map_or("", |at| &url[at..]);
    format!("{head}/{}{tail}", percent(database))
}
