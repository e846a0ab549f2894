//! Staff sign-in and the rules of who may do what.
//!
//! Passwords and PINs are stored as argon2id PHC strings with OWASP's parameters;
//! lock-out after repeated failures is a pure rule over the account's state and the
//! instant, and every outcome is journaled by the caller.

use crate::domain::Role;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};

/// OWASP Password Storage Cheat Sheet, argon2id: 19 MiB of memory, 2 iterations, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

/// Consecutive failures that lock an account: enough for typos, too few to guess a PIN.
pub const SIGN_IN_FAILURES_MAX: u32 = 5;
/// How long a locked account stays locked (an admin can unlock it sooner).
pub const LOCKOUT_MINUTES: i64 = 15;

pub const PASSWORD_LEN_MIN_CHARS: usize = 8;
/// Bounded so a pasted novel cannot make argon2 chew for seconds.
pub const PASSWORD_LEN_MAX_CHARS: usize = 128;
pub const PIN_DIGITS_MIN: usize = 4;
pub const PIN_DIGITS_MAX: usize = 8;

fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret (password or PIN) into a PHC string with a fresh random salt.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .expect("hashing with valid parameters cannot fail")
        .to_string()
}

/// Checks a secret against a stored PHC string. A malformed stored hash never matches.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real check, so a wrong login is not told apart from a wrong
/// password by the clock.
pub fn verify_against_nothing(secret: &str) {
    // A fixed, valid hash of a random string nobody knows.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$9sTbSlTio3Biev89thdrlKKh86xdvMFqe/PD9vaJSWs";
    let _ = verify_secret(secret, DUMMY);
}

pub fn check_password_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < PASSWORD_LEN_MIN_CHARS {
        return Err(format!("at least {PASSWORD_LEN_MIN_CHARS} characters"));
    }
    if len > PASSWORD_LEN_MAX_CHARS {
        return Err(format!("at most {PASSWORD_LEN_MAX_CHARS} characters"));
    }
    Ok(())
}

pub fn check_pin_policy(pin: &str) -> Result<(), String> {
    if !pin.chars().all(|c| c.is_ascii_digit())
        || !(PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&pin.len())
    {
        return Err(format!("{PIN_DIGITS_MIN}–{PIN_DIGITS_MAX} digits"));
    }
    Ok(())
}

/// The lock-out state of one account, as the projection holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockState {
    pub failed_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl LockState {
    /// Locked at `now`?
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// After one more failure at `now`: the instant the account becomes locked until, if
    /// this failure locks it.
    pub fn lock_after_failure(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.failed_attempts + 1 >= SIGN_IN_FAILURES_MAX)
            .then(|| now + Duration::minutes(LOCKOUT_MINUTES))
    }
}

/// A signed-in staff member at this workstation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    pub person_id: crate::domain::PersonId,
    pub login: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl Session {
    /// The journal's actor for what this person does.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.person_id)
    }

    pub fn holds_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn secrets_hash_with_owasp_argon2id_and_verify() {
        let phc = hash_secret("correct horse");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_secret("correct horse", &phc));
        assert!(!verify_secret("correct hors", &phc));
        assert!(!verify_secret("correct horse", "not a hash"));
        assert_ne!(hash_secret("correct horse"), phc, "salts differ");
    }

    #[test]
    fn lockout_after_the_fifth_consecutive_failure() {
        let now = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
        let mut state = LockState {
            failed_attempts: 0,
            locked_until: None,
        };
        for attempt in 1..=SIGN_IN_FAILURES_MAX {
            let lock = state.lock_after_failure(now);
            assert_eq!(
                lock.is_some(),
                attempt == SIGN_IN_FAILURES_MAX,
                "attempt {attempt}"
            );
            state.failed_attempts += 1;
            state.locked_until = lock.or(state.locked_until);
        }
        assert!(state
            .locked_at(now + Duration::minutes(LOCKOUT_MINUTES - 1))
            .is_some());
        assert!(state
            .locked_at(now + Duration::minutes(LOCKOUT_MINUTES))
            .is_none());
    }

    #[test]
    fn policies() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough").is_ok());
        assert!(check_pin_policy("1234").is_ok());
        assert!(check_pin_policy("12a4").is_err());
        assert!(check_pin_policy("123").is_err());
    }
}
