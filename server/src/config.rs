//! The server's settings: a TOML file, each setting overridden by its environment
//! variable.

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The app role's URL (`SCHOOLCARD_SERVER_DATABASE_URL`).
    pub database_url: Option<String>,
    /// Address to listen on (`SCHOOLCARD_SERVER_LISTEN`), default [`DEFAULT_LISTEN`].
    pub listen: Option<String>,
    /// The payment sandbox's HMAC key (`SCHOOLCARD_SERVER_SANDBOX_KEY`); no key, no payments.
    pub sandbox_key: Option<String>,
    /// The base URL payers reach this server at (`SCHOOLCARD_SERVER_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// The SMTP relay for parents' sign-in codes (`SCHOOLCARD_SERVER_SMTP_HOST`); none,
    /// and codes are only logged as not sent.
    pub smtp_host: Option<String>,
    /// Its port (`SCHOOLCARD_SERVER_SMTP_PORT`), default 25.
    pub smtp_port: Option<u16>,
    /// The sender (`SCHOOLCARD_SERVER_MAIL_FROM`), default `portal@localhost`.
    pub mail_from: Option<String>,
    /// Portal cookies without `Secure` (`SCHOOLCARD_SERVER_INSECURE_COOKIES=1`): only for
    /// plain HTTP on loopback.
    pub insecure_cookies: Option<bool>,
    /// The folder a workstation release is left in — its `latest.json` and packages
    /// (`SCHOOLCARD_SERVER_UPDATES_DIR`); none, and no updates are offered.
    pub updates_dir: Option<String>,
    /// When set, `/metrics` wants `Authorization: Bearer <token>`
    /// (`SCHOOLCARD_SERVER_METRICS_TOKEN`); unset, it answers whoever reaches `listen`.
    pub metrics_token: Option<String>,
}

impl Config {
    /// Reads `path` (if given), then applies the environment.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, String> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("reading {}: {error}", path.display()))?;
                toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok());
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        let set = |slot: &mut Option<String>, name: &str| {
            if let Some(value) = var(name).filter(|value| !value.is_empty()) {
                *slot = Some(value);
            }
        };
        set(&mut self.database_url, "SCHOOLCARD_SERVER_DATABASE_URL");
        set(&mut self.listen, "SCHOOLCARD_SERVER_LISTEN");
        set(&mut self.sandbox_key, "SCHOOLCARD_SERVER_SANDBOX_KEY");
        set(&mut self.public_url, "SCHOOLCARD_SERVER_PUBLIC_URL");
        set(&mut self.smtp_host, "SCHOOLCARD_SERVER_SMTP_HOST");
        set(&mut self.mail_from, "SCHOOLCARD_SERVER_MAIL_FROM");
        set(&mut self.updates_dir, "SCHOOLCARD_SERVER_UPDATES_DIR");
        set(&mut self.metrics_token, "SCHOOLCARD_SERVER_METRICS_TOKEN");
        if let Some(port) = var("SCHOOLCARD_SERVER_SMTP_PORT").and_then(|p| p.parse().ok()) {
            self.smtp_port = Some(port);
        }
        if let Some(flag) = var("SCHOOLCARD_SERVER_INSECURE_COOKIES") {
            self.insecure_cookies = Some(flag == "1" || flag == "true");
        }
    }

    pub fn listen(&self) -> &str {
        self.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file() {
        let mut config: Config =
            toml::from_str("database_url = \"postgres://file\"\nlisten = \"0.0.0.0:1\"").unwrap();
        config.apply_env(|name| {
            (name == "SCHOOLCARD_SERVER_DATABASE_URL").then(|| "postgres://env".to_owned())
        });
        assert_eq!(config.database_url.as_deref(), Some("postgres://env"));
        assert_eq!(config.listen(), "0.0.0.0:1");
        assert_eq!(Config::default().listen(), DEFAULT_LISTEN);
        assert!(toml::from_str::<Config>("databse_url = \"typo\"").is_err());
    }
}
