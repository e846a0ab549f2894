//! The `schoolcard-server` command: `serve` (the default), `db-setup` and `demo`.

use std::path::PathBuf;

use schoolcard_server::auth::Role;
use schoolcard_server::config::Config;
use schoolcard_server::{admin, db, http, ThrowawayCluster};

const USAGE: &str = "usage:
  schoolcard-server [serve] [--config FILE]
  schoolcard-server db-setup --admin-url URL --app-role NAME --app-password PASSWORD
  schoolcard-server add-admin --login NAME [--config FILE]   (the password on stdin)
  schoolcard-server demo [--config FILE]

Settings (file, then environment): database_url (SCHOOLCARD_SERVER_DATABASE_URL),
listen (SCHOOLCARD_SERVER_LISTEN, default 127.0.0.1:8787), sandbox_key
(SCHOOLCARD_SERVER_SANDBOX_KEY), public_url (SCHOOLCARD_SERVER_PUBLIC_URL), smtp_host,
smtp_port, mail_from, insecure_cookies, metrics_token, updates_dir (a workstation
release's latest.json and packages) (SCHOOLCARD_SERVER_<NAME>).
Health: GET /health (200 or 503); metrics: GET /metrics (Prometheus text).
Logs: RUST_LOG (default info).";

/// The demo's app role; the throwaway cluster trusts loopback, so its password is moot.
const DEMO_APP_ROLE: &str = "schoolcard_app";
const DEMO_SCHOOL: &str = "Лицей «Держава»";
const DEMO_ADMIN_LOGIN: &str = "admin";
const DEMO_ADMIN_PASSWORD: &str = "admin-demo";

fn main() -> std::process::ExitCode {
    // Logs to stderr (stdout carries the demo's credentials), coloured only on a terminal.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("schoolcard-server: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn option(args: &[String], name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|arg| arg == name) {
        Some(at) => args
            .get(at + 1)
            .cloned()
            .map(Some)
            .ok_or_else(|| format!("{name} needs a value\n{USAGE}")),
        None => Ok(None),
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let command = args.first().filter(|arg| !arg.starts_with("--")).cloned();
    let config = || Config::load(option(&args, "--config")?.map(PathBuf::from).as_deref());
    match command.as_deref() {
        None | Some("serve") => serve(config()?).await,
        Some("db-setup") => {
            let required = |name: &str| {
                option(&args, name)?.ok_or_else(|| format!("{name} is required\n{USAGE}"))
            };
            db::db_setup(
                &required("--admin-url")?,
                &required("--app-role")?,
                &required("--app-password")?,
            )
            .await
            .map_err(|error| error.to_string())?;
            println!("the database is set up");
            Ok(())
        }
        Some("add-admin") => {
            let login =
                option(&args, "--login")?.ok_or_else(|| format!("--login is required\n{USAGE}"))?;
            add_admin(config()?, &login).await
        }
        Some("demo") => demo(config()?).await,
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
    }
}

/// The server's state from its configuration; `demo` writes mail to the log when no SMTP
/// relay is configured.
fn state_for(config: &Config, pool: sqlx_postgres::PgPool, demo: bool) -> http::AppState {
    let mut state = http::AppState::new(pool);
    if let Some(key) = &config.sandbox_key {
        tracing::warn!(
            "the payment sandbox is on: anyone reaching /sandbox/pay/{{id}} confirms a top-up without paying; \
             never configure sandbox_key on a server parents use"
        );
        state = state.with_sandbox_key(key.as_bytes());
    }
    if let Some(url) = &config.public_url {
        state = state.with_public_url(url);
    }
    if let Some(folder) = &config.updates_dir {
        state = state.with_updates_dir(folder);
    }
    if let Some(token) = &config.metrics_token {
        state = state.with_metrics_token(token);
    }
    let mailer: std::sync::Arc<dyn schoolcard_server::mail::Mailer> = match &config.smtp_host {
        Some(host) => match schoolcard_server::mail::Smtp::new(
            host,
            config.smtp_port.unwrap_or(25),
            config.mail_from.as_deref().unwrap_or("portal@localhost"),
        ) {
            Ok(smtp) => std::sync::Arc::new(smtp),
            Err(error) => {
                tracing::error!(%error, "the SMTP settings are wrong: parents' codes will not be sent");
                std::sync::Arc::new(schoolcard_server::mail::Unconfigured)
            }
        },
        None if demo => std::sync::Arc::new(schoolcard_server::mail::Console),
        None => {
            tracing::warn!(
                "no smtp_host: parents' sign-in codes and notifications are not sent by e-mail"
            );
            std::sync::Arc::new(schoolcard_server::mail::Unconfigured)
        }
    };
    state = state.with_portal(mailer, !config.insecure_cookies.unwrap_or(false));
    state
}

async fn serve(config: Config) -> Result<(), String> {
    let url = config.database_url.clone().ok_or(
        "no database: set database_url in the config file or SCHOOLCARD_SERVER_DATABASE_URL",
    )?;
    let pool = db::connect(&url)
        .await
        .map_err(|error| format!("connecting to the database: {error}"))?;
    db::ready(&pool).await?;
    let server = http::spawn(state_for(&config, pool, false), config.listen())
        .await
        .map_err(|error| format!("listening on {}: {error}", config.listen()))?;
    tracing::info!(url = %server.url, "serving");
    wait_for_ctrl_c().await;
    server.stop().await.map_err(|error| error.to_string())
}

/// A municipal administrator (the first one, on a new installation), with the password
/// read from the first line of standard input so it stays out of `ps` and the history.
async fn add_admin(config: Config, login: &str) -> Result<(), String> {
    let url = config.database_url.clone().ok_or(
        "no database: set database_url in the config file or SCHOOLCARD_SERVER_DATABASE_URL",
    )?;
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|error| format!("reading the password from stdin: {error}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on stdin".into());
    }
    let pool = db::connect(&url)
        .await
        .map_err(|error| format!("connecting to the database: {error}"))?;
    db::ready(&pool).await?;
    admin::create_user(&pool, login, password, Role::MunicipalAdmin, None)
        .await
        .map_err(|error| error.to_string())?;
    println!("the municipal administrator {login} is created");
    Ok(())
}

/// Ctrl+C, or SIGTERM from a service manager.
async fn wait_for_ctrl_c() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping");
}

/// A ready-to-try server: its own PostgreSQL (unless a database is configured), the demo
/// school, a municipal admin and a fresh enrolment code.
async fn demo(mut config: Config) -> Result<(), String> {
    let mut cluster = None;
    let database_url = match config.database_url.clone() {
        Some(url) => url,
        None => {
            println!("starting a throwaway PostgreSQL cluster …");
            let started = tokio::task::spawn_blocking(ThrowawayCluster::start)
                .await
                .map_err(|error| error.to_string())?
                .map_err(|error| error.to_string())?;
            let admin_url = started.admin_url();
            let password = schoolcard_server::auth::random_hex(16);
            db::db_setup(&admin_url, DEMO_APP_ROLE, &password)
                .await
                .map_err(|error| error.to_string())?;
            cluster = Some(started);
            db::url_as(&admin_url, DEMO_APP_ROLE, &password).map_err(|error| error.to_string())?
        }
    };
    let pool = db::connect(&database_url)
        .await
        .map_err(|error| format!("connecting to the database: {error}"))?;
    db::ready(&pool).await?;
    let school = match admin::list_schools(&pool)
        .await
        .map_err(|error| error.to_string())?
        .into_iter()
        .find(|school| school.name == DEMO_SCHOOL)
    {
        Some(school) => school,
        None => admin::create_school(&pool, DEMO_SCHOOL, "Europe/Moscow")
            .await
            .map_err(|error| error.to_string())?,
    };
    match admin::create_user(
        &pool,
        DEMO_ADMIN_LOGIN,
        DEMO_ADMIN_PASSWORD,
        Role::MunicipalAdmin,
        None,
    )
    .await
    {
        Ok(_) => {}
        Err(error) if error.status == axum::http::StatusCode::CONFLICT => {}
        Err(error) => return Err(error.to_string()),
    }
    let code = admin::issue_enrolment_code(&pool, school.id, None)
        .await
        .map_err(|error| error.to_string())?;
    if config.sandbox_key.is_none() {
        config.sandbox_key = Some(schoolcard_server::auth::random_hex(32));
    }
    // The demo serves plain HTTP on loopback, where a browser drops `Secure` cookies.
    if config.insecure_cookies.is_none() {
        config.insecure_cookies = Some(true);
    }
    let server = http::spawn(state_for(&config, pool, true), config.listen())
        .await
        .map_err(|error| format!("listening on {}: {error}", config.listen()))?;
    println!();
    println!("  server         {}", server.url);
    println!("  school         {} ({})", school.name, school.id);
    println!("  admin          {DEMO_ADMIN_LOGIN} / {DEMO_ADMIN_PASSWORD} (municipal)");
    println!(
        "  parent portal  {}/portal (codes go to the log unless smtp_host is set)",
        server.url
    );
    println!(
        "  enrolment code {} (valid until {})",
        code.code,
        code.expires_at.format("%Y-%m-%d %H:%M UTC")
    );
    println!();
    println!(
        "Ctrl+C stops the server{}.",
        if cluster.is_some() {
            " and its database"
        } else {
            ""
        }
    );
    wait_for_ctrl_c().await;
    server.stop().await.map_err(|error| error.to_string())?;
    drop(cluster);
    Ok(())
}
