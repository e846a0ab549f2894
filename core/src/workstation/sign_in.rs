//! First run of a fresh database (the school and its first admin), sign-in by password
//! or by card and PIN, sign-out, and the staff accounts they read.

use super::school::check_time_zone;
use super::staff::append_staff;
use super::{
    check_card, check_login, check_name, check_password, check_title, parse_col, NameInput,
    Workstation, SCHOOL_NAME_LEN_MAX_CHARS,
};
use crate::auth::{self, LockState, Session};
use crate::domain::{CardState, FullName, PersonId, PersonStatus, Role};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, PersonDetails, SignInMethod};
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

impl Workstation {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_up_school(
        &mut self,
        actor: &str,
        school_name: &str,
        time_zone: &str,
        admin_name: NameInput,
        login: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let accounts: i64 =
            self.store
                .conn()
                .query_row("SELECT count(*) FROM staff_accounts", [], |r| r.get(0))?;
        if accounts > 0 {
            return Err(CoreError::conflict(
                Refusal::AlreadySetUp,
                "the school is already set up; sign in as its admin",
            ));
        }
        let name = check_title("school_name", school_name, SCHOOL_NAME_LEN_MAX_CHARS)?;
        let tz = check_time_zone(time_zone)?;
        let admin = check_name(&admin_name)?;
        let login = check_login(login)?;
        check_password("password", password)?;
        let password_hash = auth::hash_secret(password);
        let person_id = PersonId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::SchoolConfigured {
                    name,
                    time_zone: tz.to_string(),
                    demo: false,
                },
            )?;
            append_staff(
                w,
                actor,
                now,
                person_id,
                admin,
                PersonDetails::default(),
                login,
                vec![Role::Admin],
                Some(password_hash),
                None,
            )
        })?;
        self.get_school()
    }

    pub(super) fn sign_in_password(
        &mut self,
        login: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let login = login.trim().to_lowercase();
        let account = self.account_by_login(&login)?;
        let attempted = login.clone();
        self.finish_sign_in(
            account,
            attempted,
            now,
            SignInMethod::Password,
            |acc| {
                acc.password_hash
                    .as_deref()
                    .is_some_and(|h| auth::verify_secret(password, h))
            },
            password,
        )
    }

    pub(super) fn sign_in_card(
        &mut self,
        card: &str,
        pin: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let card_id = check_card(card)?;
        let holder = self.card_holder(&card_id)?;
        let account = match holder {
            Some(h) if h.state == CardState::Active => self.account_by_person(h.person_id)?,
            _ => None,
        };
        self.finish_sign_in(
            account,
            card_id.to_string(),
            now,
            SignInMethod::CardAndPin,
            |acc| {
                acc.pin_hash
                    .as_deref()
                    .is_some_and(|h| auth::verify_secret(pin, h))
            },
            pin,
        )
    }

    fn finish_sign_in(
        &mut self,
        account: Option<Account>,
        attempted: String,
        now: DateTime<Utc>,
        method: SignInMethod,
        secret_ok: impl FnOnce(&Account) -> bool,
        secret: &str,
    ) -> CoreResult<Value> {
        let device_actor = format!("device:{}", self.store.device());
        let Some(account) = account else {
            auth::verify_against_nothing(secret);
            self.store.write(|w| {
                w.append(
                    &device_actor,
                    now,
                    EventBody::SignInFailed {
                        attempted,
                        person_id: None,
                        reason: "unknown".into(),
                    },
                )
            })?;
            return Err(CoreError::WrongCredentials);
        };
        if let Some(until) = account.lock.locked_at(now) {
            self.store.write(|w| {
                w.append(
                    &device_actor,
                    now,
                    EventBody::SignInFailed {
                        attempted,
                        person_id: Some(account.person_id),
                        reason: "locked".into(),
                    },
                )
            })?;
            return Err(CoreError::AccountLocked { until });
        }
        let person_active = account.status == PersonStatus::Active;
        if !secret_ok(&account) || !person_active || account.roles.is_empty() {
            let reason = if !person_active {
                "inactive"
            } else if account.roles.is_empty() {
                "no_roles"
            } else {
                "wrong_secret"
            };
            let lock = account.lock.lock_after_failure(now);
            self.store.write(|w| {
                w.append(
                    &device_actor,
                    now,
                    EventBody::SignInFailed {
                        attempted,
                        person_id: Some(account.person_id),
                        reason: reason.into(),
                    },
                )?;
                if let Some(until) = lock {
                    w.append(
                        &device_actor,
                        now,
                        EventBody::AccountLocked {
                            person_id: account.person_id,
                            until,
                        },
                    )?;
                }
                Ok::<_, CoreError>(())
            })?;
            return Err(match lock {
                Some(until) => CoreError::AccountLocked { until },
                None => CoreError::WrongCredentials,
            });
        }
        let session = Session {
            person_id: account.person_id,
            login: account.login.clone(),
            display_name: account.display_name.clone(),
            roles: account.roles.clone(),
        };
        let actor = session.actor();
        self.store.write(|w| {
            w.append(
                &actor,
                now,
                EventBody::SignedIn {
                    person_id: account.person_id,
                    method,
                },
            )
        })?;
        self.session = Some(session);
        Ok(json!({ "session": self.session }))
    }

    pub(super) fn sign_out(&mut self, now: DateTime<Utc>) -> CoreResult<Value> {
        if let Some(session) = self.session.take() {
            self.store.write(|w| {
                w.append(
                    &session.actor(),
                    now,
                    EventBody::SignedOut {
                        person_id: session.person_id,
                    },
                )
            })?;
        }
        Ok(json!({ "session": null }))
    }

    pub(super) fn change_own_password(
        &mut self,
        actor: &str,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let session = self.session.clone().ok_or(CoreError::NotSignedIn)?;
        let account = self
            .account_by_person(session.person_id)?
            .ok_or_else(|| CoreError::not_found("account"))?;
        if !account
            .password_hash
            .as_deref()
            .is_some_and(|h| auth::verify_secret(old, h))
        {
            return Err(CoreError::WrongCredentials);
        }
        check_password("new_password", new)?;
        let password_hash = auth::hash_secret(new);
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::StaffPasswordSet {
                    person_id: session.person_id,
                    password_hash,
                },
            )
        })?;
        Ok(json!({ "ok": true }))
    }

    pub(super) fn account_by_login(&self, login: &str) -> CoreResult<Option<Account>> {
        self.query_account("a.login = ?1", login)
    }

    pub(super) fn account_by_person(&self, person_id: PersonId) -> CoreResult<Option<Account>> {
        self.query_account("a.person_id = ?1", &person_id.to_string())
    }

    fn query_account(&self, filter: &str, value: &str) -> CoreResult<Option<Account>> {
        let sql = format!(
            "SELECT a.person_id, a.login, a.roles, a.password_hash, a.pin_hash, a.failed_attempts,
                    a.locked_until_us, p.surname, p.name, p.patronymic, p.status
             FROM staff_accounts a JOIN persons p ON p.id = a.person_id WHERE {filter}"
        );
        Ok(self
            .store
            .conn()
            .query_row(&sql, [value], |r| {
                let name = FullName {
                    surname: r.get(7)?,
                    name: r.get(8)?,
                    patronymic: r.get(9)?,
                };
                Ok(Account {
                    person_id: parse_col(r, 0)?,
                    login: r.get(1)?,
                    roles: crate::projection::parse_roles_column(&r.get::<_, String>(2)?),
                    password_hash: r.get(3)?,
                    pin_hash: r.get(4)?,
                    lock: LockState {
                        failed_attempts: r.get::<_, i64>(5)? as u32,
                        locked_until: r.get::<_, Option<i64>>(6)?.map(from_micros),
                    },
                    display_name: name.display(),
                    status: PersonStatus::parse(&r.get::<_, String>(10)?)
                        .unwrap_or(PersonStatus::Left),
                })
            })
            .optional()?)
    }
}

pub(super) struct Account {
    person_id: PersonId,
    pub(super) login: String,
    pub(super) roles: Vec<Role>,
    pub(super) password_hash: Option<String>,
    pub(super) pin_hash: Option<String>,
    pub(super) lock: LockState,
    display_name: String,
    status: PersonStatus,
}
