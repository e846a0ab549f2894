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
