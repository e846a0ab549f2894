//! One error type for everything a command can answer with. `code()` is stable and is
//! what the UI translates; the message is for logs and for people reading English.

use crate::domain::Role;
use thiserror::Error;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("sign in first")]
    NotSignedIn,
    #[error("this needs one of the roles {needed:?}")]
    Forbidden { needed: Vec<Role> },
    #[error("wrong login or password")]
    WrongCredentials,
    #[error("the account is locked until {until}")]
    AccountLocked {
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        CoreError::NotFound { what: what.into() }
    }

    /// A stable code for the UI's message catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotSignedIn => "not_signed_in",
            CoreError::Forbidden { .. } => "forbidden",
            CoreError::WrongCredentials => "wrong_credentials",
            CoreError::AccountLocked { .. } => "account_locked",
            CoreError::Invalid { .. } => "invalid",
            CoreError::NotFound { .. } => "not_found",
            CoreError::Conflict(_) => "conflict",
            CoreError::Store(StoreError::NewerSchema { .. }) => "newer_schema",
            CoreError::Store(StoreError::NotOurs { .. }) => "not_ours",
            CoreError::Store(_) => "store",
        }
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(e: rusqlite::Error) -> Self {
        CoreError::Store(StoreError::Sqlite(e))
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "this database was written by a newer version of the program (schema {found}, \
         this program knows up to {supported}); install the newer version — the file was not changed"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("{path} is not a school card database (application id {found:#x})")]
    NotOurs { path: String, found: i64 },
    #[error("journal row {seq}: {message}")]
    CorruptEvent { seq: i64, message: String },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
