//! `Workstation`: the one door through which the desktop shell reaches the core.
//!
//! Every command is authorized here, by `access()` (an exhaustive match: a new command
//! cannot be added without saying who may run it), before it touches the store. Hiding a
//! button in the UI is a courtesy; this is the rule.

use crate::auth::{self, LockState, Session};
use crate::domain::{
    CardState, ClassId, ClassName, FullName, PersonId, PersonKind, PersonStatus, Role,
};
use crate::error::{CoreError, CoreResult};
use crate::events::{EventBody, PersonDetails, SignInMethod};
use crate::journal::{self, VerifyReport};
use crate::store::{Store, Writer};
use crate::time::{from_micros, SchoolTz};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension, Row};
use schoolcard_proto::CardId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Results of a search are capped: a list longer than a screen is not read by anyone.
pub const SEARCH_RESULTS_MAX: u32 = 200;
/// A photo larger than this is refused: a passport photo is a few hundred KiB.
pub const PHOTO_BYTES_MAX: usize = 5 * 1024 * 1024;
pub const SCHOOL_NAME_LEN_MAX_CHARS: usize = 200;
pub const JOURNAL_PAGE_MAX: u32 = 500;

/// Long work reports how far it got (roster import, photo import, demo generation).
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

/// Everything a workstation user can ask for. Arrives from the UI as JSON
/// (`{"type": "sign_in_password", ...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// First run of a fresh database: the school and its first admin. Refused once any
    /// staff account exists.
    SetUpSchool {
        school_name: String,
        time_zone: String,
        admin_name: NameInput,
        login: String,
        password: String,
    },
    SignInPassword {
        login: String,
        password: String,
    },
    SignInCard {
        card: String,
        pin: String,
    },
    SignOut,
    WhoAmI,
    ChangeOwnPassword {
        old_password: String,
        new_password: String,
    },

    GetSchool,
    ConfigureSchool {
        name: String,
        time_zone: String,
    },
    SchoolSummary,

    ListClasses,
    CreateClass {
        name: String,
    },
    RenameClass {
        class_id: ClassId,
        name: String,
    },
    ArchiveClass {
        class_id: ClassId,
    },

    SearchPeople {
        #[serde(default)]
        query: String,
        #[serde(default)]
        kind: Option<PersonKind>,
        #[serde(default)]
        class_id: Option<ClassId>,
        #[serde(default)]
        include_left: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    GetPerson {
        person_id: PersonId,
    },
    LookupCard {
        card: String,
    },
    EnrolPupil {
        name: NameInput,
        class_id: ClassId,
        #[serde(default)]
        details: DetailsInput,
    },
    EnrolGuardian {
        pupil_id: PersonId,
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
        #[serde(default)]
        relation: String,
    },
    UpdatePerson {
        person_id: PersonId,
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
    },
    MovePupil {
        person_id: PersonId,
        class_id: ClassId,
    },
    SetPersonStatus {
        person_id: PersonId,
        status: PersonStatus,
        #[serde(default)]
        reason: String,
    },
    SetPhoto {
        person_id: PersonId,
        mime: String,
        base64: String,
    },
    LinkGuardian {
        guardian_id: PersonId,
        pupil_id: PersonId,
        #[serde(default)]
        relation: String,
    },
    UnlinkGuardian {
        guardian_id: PersonId,
        pupil_id: PersonId,
    },

    BindCard {
        person_id: PersonId,
        card: String,
    },
    SetCardState {
        card: String,
        state: CardState,
        #[serde(default)]
        reason: String,
    },

    ListStaff,
    EnrolStaff {
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
        login: String,
        roles: Vec<Role>,
        password: String,
    },
    SetStaffRoles {
        person_id: PersonId,
        roles: Vec<Role>,
    },
    SetStaffPassword {
        person_id: PersonId,
        password: String,
    },
    SetStaffPin {
        person_id: PersonId,
        pin: String,
    },
    UnlockAccount {
        person_id: PersonId,
    },

    PreviewRoster {
        path: PathBuf,
    },
    CommitRoster {
        path: PathBuf,
    },
    ImportPhotos {
        path: PathBuf,
    },

    VerifyJournal,
    JournalPage {
        #[serde(default)]
        before_seq: Option<i64>,
        #[serde(default)]
        limit: Option<u32>,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NameInput {
    pub surname: String,
    pub name: String,
    #[serde(default)]
    pub patronymic: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DetailsInput {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Before sign-in: the sign-in itself and what the sign-in screen shows.
    Public,
    /// Any signed-in staff member.
    SignedIn,
    /// Only holders of one of these roles.
    Roles(&'static [Role]),
}

const ADMIN: &[Role] = &[Role::Admin];
const ADMIN_DIRECTOR: &[Role] = &[Role::Admin, Role::Director];

impl Command {
    pub fn access(&self) -> Access {
        use Command::*;
        match self {
            SetUpSchool { .. } | SignInPassword { .. } | SignInCard { .. } | WhoAmI | GetSchool => {
                Access::Public
            }
            SignOut
            | ChangeOwnPassword { .. }
            | ListClasses
            | SearchPeople { .. }
            | GetPerson { .. }
            | LookupCard { .. } => Access::SignedIn,
            SchoolSummary | ListStaff | VerifyJournal | JournalPage { .. } => {
                Access::Roles(ADMIN_DIRECTOR)
            }
            ConfigureSchool { .. }
            | CreateClass { .. }
            | RenameClass { .. }
            | ArchiveClass { .. }
            | EnrolPupil { .. }
            | EnrolGuardian { .. }
            | UpdatePerson { .. }
            | MovePupil { .. }
            | SetPersonStatus { .. }
            | SetPhoto { .. }
            | LinkGuardian { .. }
            | UnlinkGuardian { .. }
            | BindCard { .. }
            | SetCardState { .. }
            | EnrolStaff { .. }
            | SetStaffRoles { .. }
            | SetStaffPassword { .. }
            | SetStaffPin { .. }
            | UnlockAccount { .. }
            | PreviewRoster { .. }
            | CommitRoster { .. }
            | ImportPhotos { .. } => Access::Roles(ADMIN),
        }
    }
}

pub struct Workstation {
    store: Store,
    session: Option<Session>,
}

impl Workstation {
    pub fn open(db_path: &Path) -> CoreResult<Workstation> {
        Ok(Workstation {
            store: Store::open(db_path)?,
            session: None,
        })
    }

    pub fn from_store(store: Store) -> Workstation {
        Workstation {
            store,
            session: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Authorizes and runs one command at the instant `now`.
    pub fn execute(
        &mut self,
        cmd: Command,
        now: DateTime<Utc>,
        progress: &dyn Fn(Progress),
    ) -> CoreResult<Value> {
        let actor = self.authorize(&cmd)?;
        use Command::*;
        match cmd {
            SetUpSchool {
                school_name,
                time_zone,
                admin_name,
                login,
                password,
            } => self.set_up_school(
                &actor,
                &school_name,
                &time_zone,
                admin_name,
                &login,
                &password,
                now,
            ),
            SignInPassword { login, password } => self.sign_in_password(&login, &password, now),
            SignInCard { card, pin } => self.sign_in_card(&card, &pin, now),
            SignOut => self.sign_out(now),
            WhoAmI => Ok(json!({ "session": self.session })),
            ChangeOwnPassword {
                old_password,
                new_password,
            } => self.change_own_password(&actor, &old_password, &new_password, now),
            GetSchool => self.get_school(),
            ConfigureSchool { name, time_zone } => {
                self.configure_school(&actor, &name, &time_zone, now)
            }
            SchoolSummary => self.school_summary(now),
            ListClasses => self.list_classes(),
            CreateClass { name } => self.create_class(&actor, &name, now),
            RenameClass { class_id, name } => self.rename_class(&actor, class_id, &name, now),
            ArchiveClass { class_id } => self.archive_class(&actor, class_id, now),
            SearchPeople {
                query,
                kind,
                class_id,
                include_left,
                limit,
            } => self.search_people(&query, kind, class_id, include_left, limit),
            GetPerson { person_id } => self.get_person(person_id),
            LookupCard { card } => self.lookup_card(&card),
            EnrolPupil {
                name,
                class_id,
                details,
            } => self.enrol_pupil(&actor, name, class_id, details, now),
            EnrolGuardian {
                pupil_id,
                name,
                details,
                relation,
            } => self.enrol_guardian(&actor, pupil_id, name, details, relation, now),
            UpdatePerson {
                person_id,
                name,
                details,
            } => self.update_person(&actor, person_id, name, details, now),
            MovePupil {
                person_id,
                class_id,
            } => self.move_pupil(&actor, person_id, class_id, now),
            SetPersonStatus {
                person_id,
                status,
                reason,
            } => self.set_person_status(&actor, person_id, status, reason, now),
            SetPhoto {
                person_id,
                mime,
                base64,
            } => self.set_photo(&actor, person_id, &mime, &base64, now),
            LinkGuardian {
                guardian_id,
                pupil_id,
                relation,
            } => self.link_guardian(&actor, guardian_id, pupil_id, relation, now),
            UnlinkGuardian {
                guardian_id,
                pupil_id,
            } => self.unlink_guardian(&actor, guardian_id, pupil_id, now),
            BindCard { person_id, card } => self.bind_card(&actor, person_id, &card, now),
            SetCardState {
                card,
                state,
                reason,
            } => self.set_card_state(&actor, &card, state, reason, now),
            ListStaff => self.list_staff(now),
            EnrolStaff {
                name,
                details,
                login,
                roles,
                password,
            } => self.enrol_staff(&actor, name, details, &login, roles, &password, now),
            SetStaffRoles { person_id, roles } => {
                self.set_staff_roles(&actor, person_id, roles, now)
            }
            SetStaffPassword {
                person_id,
                password,
            } => self.set_staff_password(&actor, person_id, &password, now),
            SetStaffPin { person_id, pin } => self.set_staff_pin(&actor, person_id, &pin, now),
            UnlockAccount { person_id } => self.unlock_account(&actor, person_id, now),
            PreviewRoster { path } => {
                let preview = crate::roster::preview_file(&self.store, &path, progress)?;
                Ok(serde_json::to_value(preview).expect("previews serialize"))
            }
            CommitRoster { path } => {
                let outcome =
                    crate::roster::commit_file(&mut self.store, &actor, now, &path, progress)?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
            ImportPhotos { path } => {
                let outcome =
                    crate::roster::import_photos(&mut self.store, &actor, now, &path, progress)?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
            VerifyJournal => {
                let report: VerifyReport = journal::verify(self.store.conn())?;
                Ok(
                    json!({ "events": report.events, "intact": report.is_intact(), "faults": report.faults }),
                )
            }
            JournalPage { before_seq, limit } => self.journal_page(before_seq, limit),
        }
    }

    /// Checks the session against the command's access rule; returns the journal actor.
    fn authorize(&self, cmd: &Command) -> CoreResult<String> {
        let device_actor = || format!("device:{}", self.store.device());
        match (cmd.access(), &self.session) {
            (Access::Public, Some(s)) => Ok(s.actor()),
            (Access::Public, None) => Ok(device_actor()),
            (_, None) => Err(CoreError::NotSignedIn),
            (Access::SignedIn, Some(s)) => Ok(s.actor()),
            (Access::Roles(roles), Some(s)) if s.holds_any(roles) => Ok(s.actor()),
            (Access::Roles(roles), Some(_)) => Err(CoreError::Forbidden {
                needed: roles.to_vec(),
            }),
        }
    }

    // ---- first run and sign-in ---------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn set_up_school(
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
            return Err(CoreError::Conflict(
                "the school is already set up; sign in as its admin".into(),
            ));
        }
        let name = school_name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > SCHOOL_NAME_LEN_MAX_CHARS {
            return Err(CoreError::invalid(
                "school_name",
                format!("1–{SCHOOL_NAME_LEN_MAX_CHARS} characters"),
            ));
        }
        let tz: SchoolTz = time_zone
            .parse()
            .map_err(|m: String| CoreError::invalid("time_zone", m))?;
        let admin = check_name(&admin_name)?;
        let login = check_login(login)?;
        auth::check_password_policy(password).map_err(|m| CoreError::invalid("password", m))?;
        let password_hash = auth::hash_secret(password);
        let person_id = PersonId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::SchoolConfigured {
                    name,
                    time_zone: tz.to_string(),
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

    // ---- sign-in -----------------------------------------------------------------------

    fn sign_in_password(
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

    fn sign_in_card(&mut self, card: &str, pin: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        let card_id: CardId = card
            .trim()
            .parse()
            .map_err(|e| CoreError::invalid("card", format!("{e}")))?;
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

    fn sign_out(&mut self, now: DateTime<Utc>) -> CoreResult<Value> {
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

    fn change_own_password(
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
        auth::check_password_policy(new).map_err(|m| CoreError::invalid("new_password", m))?;
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

    fn account_by_login(&self, login: &str) -> CoreResult<Option<Account>> {
        self.query_account("a.login = ?1", login)
    }

    fn account_by_person(&self, person_id: PersonId) -> CoreResult<Option<Account>> {
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

    // ---- school and classes ------------------------------------------------------------

    fn get_school(&self) -> CoreResult<Value> {
        let school: Option<(String, String)> = self
            .store
            .conn()
            .query_row("SELECT name, time_zone FROM school", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let accounts: i64 =
            self.store
                .conn()
                .query_row("SELECT count(*) FROM staff_accounts", [], |r| r.get(0))?;
        let (configured, name, time_zone) = match school {
            Some((name, time_zone)) => (true, name, time_zone),
            None => (false, String::new(), "Europe/Moscow".to_owned()),
        };
        // `needs_setup`: a fresh database, whose first screen is the set-up form.
        Ok(
            json!({ "configured": configured, "name": name, "time_zone": time_zone, "needs_setup": accounts == 0 }),
        )
    }

    /// The school's time zone (Moscow until the school is configured).
    pub fn school_tz(&self) -> CoreResult<SchoolTz> {
        let tz: Option<String> = self
            .store
            .conn()
            .query_row("SELECT time_zone FROM school", [], |r| r.get(0))
            .optional()?;
        Ok(tz
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| "Europe/Moscow".parse().expect("valid zone")))
    }

    fn configure_school(
        &mut self,
        actor: &str,
        name: &str,
        time_zone: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > SCHOOL_NAME_LEN_MAX_CHARS {
            return Err(CoreError::invalid(
                "name",
                format!("1–{SCHOOL_NAME_LEN_MAX_CHARS} characters"),
            ));
        }
        let tz: SchoolTz = time_zone
            .parse()
            .map_err(|m: String| CoreError::invalid("time_zone", m))?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::SchoolConfigured {
                    name,
                    time_zone: tz.to_string(),
                },
            )
        })?;
        self.get_school()
    }

    fn school_summary(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let conn = self.store.conn();
        let count = |sql: &str| -> CoreResult<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
        let tz = self.school_tz()?;
        Ok(json!({
            "today": tz.school_date(now).0.to_string(),
            "pupils": count("SELECT count(*) FROM persons WHERE kind = 'pupil' AND status = 'active'")?,
            "staff": count("SELECT count(*) FROM persons WHERE kind = 'staff' AND status = 'active'")?,
            "guardians": count("SELECT count(*) FROM persons WHERE kind = 'guardian' AND status = 'active'")?,
            "classes": count("SELECT count(*) FROM classes WHERE archived = 0")?,
            "active_cards": count("SELECT count(*) FROM cards WHERE state = 'active' AND person_id IS NOT NULL")?,
            "pupils_without_card": count(
                "SELECT count(*) FROM persons p WHERE p.kind = 'pupil' AND p.status = 'active' AND NOT EXISTS
                 (SELECT 1 FROM cards c WHERE c.person_id = p.id AND c.state = 'active')")?,
            "pupils_without_photo": count(
                "SELECT count(*) FROM persons WHERE kind = 'pupil' AND status = 'active' AND photo_sha256 IS NULL")?,
            "lost_or_blocked_cards": count("SELECT count(*) FROM cards WHERE state IN ('lost', 'blocked')")?,
            "events": count("SELECT count(*) FROM journal")?,
            "by_grade": self.pupils_by_grade()?,
        }))
    }

    fn pupils_by_grade(&self) -> CoreResult<Value> {
        let mut stmt = self.store.conn().prepare(
            "SELECT c.grade, count(p.id) FROM classes c
             LEFT JOIN persons p ON p.class_id = c.id AND p.kind = 'pupil' AND p.status = 'active'
             WHERE c.archived = 0 GROUP BY c.grade ORDER BY c.grade",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(json!({ "grade": r.get::<_, i64>(0)?, "pupils": r.get::<_, i64>(1)? }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }

    fn list_classes(&self) -> CoreResult<Value> {
        let mut stmt = self.store.conn().prepare(
            "SELECT c.id, c.grade, c.letter,
                    (SELECT count(*) FROM persons p WHERE p.class_id = c.id AND p.kind = 'pupil' AND p.status = 'active')
             FROM classes c WHERE c.archived = 0 ORDER BY c.grade, c.letter",
        )?;
        let rows = stmt.query_map([], |r| {
            let grade: i64 = r.get(1)?;
            let letter: String = r.get(2)?;
            Ok(json!({
                "id": r.get::<_, String>(0)?,
                "grade": grade,
                "letter": letter,
                "name": format!("{grade}{letter}"),
                "pupils": r.get::<_, i64>(3)?,
            }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }

    fn class_by_name(&self, name: &ClassName) -> CoreResult<Option<ClassId>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT id FROM classes WHERE grade = ?1 AND letter = ?2 AND archived = 0",
                params![name.grade, name.letter],
                |r| parse_col(r, 0),
            )
            .optional()?)
    }

    fn require_class(&self, class_id: ClassId) -> CoreResult<()> {
        let exists: bool = self.store.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM classes WHERE id = ?1 AND archived = 0)",
            [class_id.to_string()],
            |r| r.get(0),
        )?;
        if exists {
            Ok(())
        } else {
            Err(CoreError::not_found("class"))
        }
    }

    fn create_class(&mut self, actor: &str, name: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        let name: ClassName = name
            .parse()
            .map_err(|m: String| CoreError::invalid("name", m))?;
        if self.class_by_name(&name)?.is_some() {
            return Err(CoreError::Conflict(format!("class {name} already exists")));
        }
        let class_id = ClassId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::ClassCreated {
                    class_id,
                    grade: name.grade,
                    letter: name.letter.clone(),
                },
            )
        })?;
        Ok(json!({ "id": class_id, "name": name.to_string() }))
    }

    fn rename_class(
        &mut self,
        actor: &str,
        class_id: ClassId,
        name: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_class(class_id)?;
        let name: ClassName = name
            .parse()
            .map_err(|m: String| CoreError::invalid("name", m))?;
        match self.class_by_name(&name)? {
            Some(other) if other != class_id => {
                return Err(CoreError::Conflict(format!("class {name} already exists")))
            }
            _ => {}
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::ClassRenamed {
                    class_id,
                    grade: name.grade,
                    letter: name.letter.clone(),
                },
            )
        })?;
        Ok(json!({ "id": class_id, "name": name.to_string() }))
    }

    fn archive_class(
        &mut self,
        actor: &str,
        class_id: ClassId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_class(class_id)?;
        let pupils: i64 = self.store.conn().query_row(
            "SELECT count(*) FROM persons WHERE class_id = ?1 AND kind = 'pupil' AND status = 'active'",
            [class_id.to_string()],
            |r| r.get(0),
        )?;
        if pupils > 0 {
            return Err(CoreError::Conflict(format!(
                "the class still has {pupils} pupils"
            )));
        }
        self.store
            .write(|w| w.append(actor, now, EventBody::ClassArchived { class_id }))?;
        Ok(json!({ "ok": true }))
    }

    // ---- people ------------------------------------------------------------------------

    fn search_people(
        &self,
        query: &str,
        kind: Option<PersonKind>,
        class_id: Option<ClassId>,
        include_left: bool,
        limit: Option<u32>,
    ) -> CoreResult<Value> {
        let limit = limit.unwrap_or(SEARCH_RESULTS_MAX).min(SEARCH_RESULTS_MAX);
        let query = query.trim();
        // A query that reads as a card number finds the card's holder.
        if let Ok(card) = query.parse::<CardId>() {
            if query.chars().any(|c| c.is_ascii_digit()) {
                if let Some(holder) = self.card_holder(&card)? {
                    let person = self.person_summary(holder.person_id)?;
                    return Ok(json!({ "people": [person], "by_card": true }));
                }
            }
        }
        let pattern = format!(
            "%{}%",
            crate::domain::search_key(query)
                .replace(['%', '_'], "")
        );
        let mut sql = String::from(&*format!("SELECT {PERSON_COLUMNS} FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.search_key LIKE ?1"));
        let mut args: Vec<String> = vec![pattern];
        if let Some(kind) = kind {
            args.push(kind.as_str().into());
            sql.push_str(&format!(" AND p.kind = ?{}", args.len()));
        }
        if let Some(class_id) = class_id {
            args.push(class_id.to_string());
            sql.push_str(&format!(" AND p.class_id = ?{}", args.len()));
        }
        if !include_left {
            sql.push_str(" AND p.status != 'left'");
        }
        sql.push_str(&format!(
            " ORDER BY c.grade, c.letter, p.surname, p.name, p.patronymic LIMIT {limit}"
        ));
        let mut stmt = self.store.conn().prepare(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params_from_iter(args.iter()),
            person_summary_from_row,
        )?;
        let people: Vec<PersonSummary> = rows.collect::<Result<_, _>>()?;
        Ok(json!({ "people": people, "by_card": false }))
    }

    fn person_summary(&self, person_id: PersonId) -> CoreResult<PersonSummary> {
        self.store
            .conn()
            .query_row(
                &format!("SELECT {PERSON_COLUMNS} FROM persons p LEFT JOIN classes c ON c.id = p.class_id WHERE p.id = ?1"),
                [person_id.to_string()],
                person_summary_from_row,
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("person"))
    }

    fn get_person(&self, person_id: PersonId) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        let conn = self.store.conn();
        let details: Value = conn.query_row(
            "SELECT external_id, birth_date, phone, email, position FROM persons WHERE id = ?1",
            [person_id.to_string()],
            |r| {
                Ok(json!({
                    "external_id": r.get::<_, Option<String>>(0)?,
                    "birth_date": r.get::<_, Option<String>>(1)?,
                    "phone": r.get::<_, Option<String>>(2)?,
                    "email": r.get::<_, Option<String>>(3)?,
                    "position": r.get::<_, Option<String>>(4)?,
                }))
            },
        )?;
        let photo = self.photo_data_url(person_id)?;
        let mut cards_stmt = conn.prepare(
            "SELECT card_key, state, raw, changed_at_us FROM cards WHERE person_id = ?1 ORDER BY changed_at_us DESC",
        )?;
        let cards: Vec<Value> = cards_stmt
            .query_map([person_id.to_string()], |r| {
                let key: String = r.get(0)?;
                Ok(card_json(
                    &key,
                    &r.get::<_, String>(1)?,
                    &r.get::<_, String>(2)?,
                    r.get(3)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let related = |sql: &str| -> CoreResult<Vec<Value>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([person_id.to_string()], |r| {
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "full_name": FullName { surname: r.get(1)?, name: r.get(2)?, patronymic: r.get(3)? }.display(),
                    "relation": r.get::<_, String>(4)?,
                    "phone": r.get::<_, Option<String>>(5)?,
                    "email": r.get::<_, Option<String>>(6)?,
                    "class_name": r.get::<_, Option<String>>(7)?,
                }))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let guardians = related(
            "SELECT g.id, g.surname, g.name, g.patronymic, gs.relation, g.phone, g.email, NULL
             FROM guardianship gs JOIN persons g ON g.id = gs.guardian_id WHERE gs.pupil_id = ?1 ORDER BY g.surname",
        )?;
        let children = related(
            "SELECT p.id, p.surname, p.name, p.patronymic, gs.relation, p.phone, p.email, c.grade || c.letter
             FROM guardianship gs JOIN persons p ON p.id = gs.pupil_id LEFT JOIN classes c ON c.id = p.class_id
             WHERE gs.guardian_id = ?1 ORDER BY p.surname",
        )?;
        let account: Option<Value> = match self.account_by_person(person_id)? {
            Some(acc) => Some(json!({
                "login": acc.login,
                "roles": acc.roles,
                "has_password": acc.password_hash.is_some(),
                "has_pin": acc.pin_hash.is_some(),
                "failed_attempts": acc.lock.failed_attempts,
                "locked_until": acc.lock.locked_until,
            })),
            None => None,
        };
        Ok(json!({
            "person": summary,
            "details": details,
            "photo": photo,
            "cards": cards,
            "guardians": guardians,
            "children": children,
            "account": account,
        }))
    }

    fn photo_data_url(&self, person_id: PersonId) -> CoreResult<Option<String>> {
        let photo: Option<(String, Vec<u8>)> = self
            .store
            .conn()
            .query_row(
                "SELECT ph.mime, ph.bytes FROM persons p JOIN photos ph ON ph.sha256 = p.photo_sha256 WHERE p.id = ?1",
                [person_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(photo.map(|(mime, bytes)| {
            format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }))
    }

    fn lookup_card(&self, card: &str) -> CoreResult<Value> {
        let card_id: CardId = card
            .trim()
            .parse()
            .map_err(|e| CoreError::invalid("card", format!("{e}")))?;
        match self.card_holder(&card_id)? {
            None => Ok(json!({ "card": card_id.to_string(), "known": false })),
            Some(holder) => {
                let person = self.person_summary(holder.person_id)?;
                Ok(json!({
                    "card": holder.card_key,
                    "known": true,
                    "state": holder.state,
                    "person": person,
                    "photo": self.photo_data_url(holder.person_id)?,
                }))
            }
        }
    }

    /// The person a presented card belongs to: the exact id first; a partial (24-bit)
    /// enrolment matches a full read only when nothing longer is known (HARDWARE.md).
    pub fn card_holder(&self, card: &CardId) -> CoreResult<Option<CardHolder>> {
        find_card_holder(self.store.conn(), card)
    }

    fn enrol_pupil(
        &mut self,
        actor: &str,
        name: NameInput,
        class_id: ClassId,
        details: DetailsInput,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_class(class_id)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, PersonKind::Pupil, None)?;
        let person_id = PersonId::new_v7();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonEnrolled {
                    person_id,
                    person_kind: PersonKind::Pupil,
                    name,
                    class_id: Some(class_id),
                    details,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn enrol_guardian(
        &mut self,
        actor: &str,
        pupil_id: PersonId,
        name: NameInput,
        details: DetailsInput,
        relation: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(pupil_id, PersonKind::Pupil)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, PersonKind::Guardian, None)?;
        let guardian_id = PersonId::new_v7();
        let relation = relation.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonEnrolled {
                    person_id: guardian_id,
                    person_kind: PersonKind::Guardian,
                    name,
                    class_id: None,
                    details,
                },
            )?;
            w.append(
                actor,
                now,
                EventBody::GuardianLinked {
                    guardian_id,
                    pupil_id,
                    relation,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    fn update_person(
        &mut self,
        actor: &str,
        person_id: PersonId,
        name: NameInput,
        details: DetailsInput,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        let name = check_name(&name)?;
        let details = self.check_details(details, summary.kind, Some(person_id))?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonUpdated {
                    person_id,
                    name,
                    details,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn move_pupil(
        &mut self,
        actor: &str,
        person_id: PersonId,
        class_id: ClassId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(person_id, PersonKind::Pupil)?;
        self.require_class(class_id)?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PupilMoved {
                    person_id,
                    class_id,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn set_person_status(
        &mut self,
        actor: &str,
        person_id: PersonId,
        status: PersonStatus,
        reason: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.person_summary(person_id)?;
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.person_id == person_id)
            && status != PersonStatus::Active
        {
            return Err(CoreError::Conflict(
                "you cannot suspend or dismiss yourself".into(),
            ));
        }
        let reason = reason.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PersonStatusChanged {
                    person_id,
                    status,
                    reason,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn set_photo(
        &mut self,
        actor: &str,
        person_id: PersonId,
        mime: &str,
        b64: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.person_summary(person_id)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| CoreError::invalid("photo", format!("not base64: {e}")))?;
        let mime = check_photo(mime, &bytes)?;
        self.store.write(|w| {
            let sha256 = w.put_photo(mime, &bytes)?;
            w.append(
                actor,
                now,
                EventBody::PhotoSet {
                    person_id,
                    sha256,
                    mime: mime.to_owned(),
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn link_guardian(
        &mut self,
        actor: &str,
        guardian_id: PersonId,
        pupil_id: PersonId,
        relation: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_kind(guardian_id, PersonKind::Guardian)?;
        self.require_kind(pupil_id, PersonKind::Pupil)?;
        let relation = relation.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::GuardianLinked {
                    guardian_id,
                    pupil_id,
                    relation,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    fn unlink_guardian(
        &mut self,
        actor: &str,
        guardian_id: PersonId,
        pupil_id: PersonId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let linked: bool = self.store.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM guardianship WHERE guardian_id = ?1 AND pupil_id = ?2)",
            params![guardian_id.to_string(), pupil_id.to_string()],
            |r| r.get(0),
        )?;
        if !linked {
            return Err(CoreError::not_found("guardianship"));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::GuardianUnlinked {
                    guardian_id,
                    pupil_id,
                },
            )
        })?;
        self.get_person(pupil_id)
    }

    fn require_kind(&self, person_id: PersonId, kind: PersonKind) -> CoreResult<PersonSummary> {
        let summary = self.person_summary(person_id)?;
        if summary.kind != kind {
            return Err(CoreError::invalid(
                "person_id",
                format!("{person_id} is not a {}", kind.as_str()),
            ));
        }
        Ok(summary)
    }

    fn check_details(
        &self,
        input: DetailsInput,
        kind: PersonKind,
        editing: Option<PersonId>,
    ) -> CoreResult<PersonDetails> {
        let details = check_details(input)?;
        if let Some(ext) = &details.external_id {
            let holder: Option<String> = self
                .store
                .conn()
                .query_row(
                    "SELECT id FROM persons WHERE kind = ?1 AND external_id = ?2",
                    params![kind.as_str(), ext],
                    |r| r.get(0),
                )
                .optional()?;
            if holder.is_some_and(|h| Some(h) != editing.map(|e| e.to_string())) {
                return Err(CoreError::invalid(
                    "external_id",
                    format!("{ext} is already used by someone else"),
                ));
            }
        }
        Ok(details)
    }

    // ---- cards -------------------------------------------------------------------------

    fn bind_card(
        &mut self,
        actor: &str,
        person_id: PersonId,
        card: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let summary = self.person_summary(person_id)?;
        if summary.status == PersonStatus::Left {
            return Err(CoreError::Conflict("the person has left the school".into()));
        }
        let raw = card.trim().to_owned();
        let card: CardId = raw
            .parse()
            .map_err(|e| CoreError::invalid("card", format!("{e}")))?;
        if let Some(existing) = self.exact_card(&card)? {
            match existing.person_id {
                Some(holder) if holder == person_id && existing.state == CardState::Active => {
                    return Err(CoreError::Conflict(
                        "this card is already bound to this person".into(),
                    ));
                }
                Some(holder) if existing.state != CardState::Returned => {
                    let other = self.person_summary(holder)?;
                    return Err(CoreError::Conflict(format!(
                        "the card belongs to {} ({}); mark it returned first",
                        other.full_name,
                        existing.state.as_str()
                    )));
                }
                _ => {}
            }
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CardBound {
                    card,
                    person_id,
                    raw,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn exact_card(&self, card: &CardId) -> CoreResult<Option<CardRow>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT person_id, state FROM cards WHERE card_key = ?1",
                [card.to_string()],
                |r| {
                    Ok(CardRow {
                        person_id: r.get::<_, Option<String>>(0)?.and_then(|s| s.parse().ok()),
                        state: CardState::parse(&r.get::<_, String>(1)?)
                            .unwrap_or(CardState::Blocked),
                    })
                },
            )
            .optional()?)
    }

    fn set_card_state(
        &mut self,
        actor: &str,
        card: &str,
        state: CardState,
        reason: String,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let card: CardId = card
            .trim()
            .parse()
            .map_err(|e| CoreError::invalid("card", format!("{e}")))?;
        let existing = self
            .exact_card(&card)?
            .ok_or_else(|| CoreError::not_found("card"))?;
        if existing.state == state {
            return Err(CoreError::Conflict(format!(
                "the card is already {}",
                state.as_str()
            )));
        }
        if state == CardState::Active && existing.person_id.is_none() {
            return Err(CoreError::Conflict(
                "a returned card is activated by binding it to someone".into(),
            ));
        }
        let reason = reason.trim().to_owned();
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::CardStateChanged {
                    card,
                    state,
                    reason,
                },
            )
        })?;
        match existing.person_id {
            Some(p) => self.get_person(p),
            None => Ok(json!({ "ok": true })),
        }
    }

    // ---- staff -------------------------------------------------------------------------

    fn list_staff(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let mut stmt = self.store.conn().prepare(
            "SELECT p.id, p.surname, p.name, p.patronymic, p.position, p.status, a.login, a.roles,
                    a.failed_attempts, a.locked_until_us, a.last_sign_in_us, a.pin_hash IS NOT NULL
             FROM persons p LEFT JOIN staff_accounts a ON a.person_id = p.id
             WHERE p.kind = 'staff' ORDER BY p.status = 'left', p.surname, p.name",
        )?;
        let now_us = crate::time::to_micros(now);
        let rows = stmt.query_map([], |r| {
            let locked_until: Option<i64> = r.get(9)?;
            Ok(json!({
                "id": r.get::<_, String>(0)?,
                "full_name": FullName { surname: r.get(1)?, name: r.get(2)?, patronymic: r.get(3)? }.display(),
                "position": r.get::<_, Option<String>>(4)?,
                "status": r.get::<_, String>(5)?,
                "login": r.get::<_, Option<String>>(6)?,
                "roles": crate::projection::parse_roles_column(&r.get::<_, Option<String>>(7)?.unwrap_or_default()),
                "failed_attempts": r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                "locked": locked_until.is_some_and(|u| u > now_us),
                "locked_until": locked_until.map(from_micros),
                "last_sign_in": r.get::<_, Option<i64>>(10)?.map(from_micros),
                "has_pin": r.get::<_, Option<bool>>(11)?.unwrap_or(false),
            }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }

    #[allow(clippy::too_many_arguments)]
    fn enrol_staff(
        &mut self,
        actor: &str,
        name: NameInput,
        details: DetailsInput,
        login: &str,
        roles: Vec<Role>,
        password: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_name(&name)?;
        let details = self.check_details(details, PersonKind::Staff, None)?;
        let login = check_login(login)?;
        if self.account_by_login(&login)?.is_some() {
            return Err(CoreError::invalid("login", format!("{login} is taken")));
        }
        auth::check_password_policy(password).map_err(|m| CoreError::invalid("password", m))?;
        let password_hash = auth::hash_secret(password);
        let person_id = PersonId::new_v7();
        self.store.write(|w| {
            append_staff(
                w,
                actor,
                now,
                person_id,
                name,
                details,
                login,
                roles,
                Some(password_hash),
                None,
            )
        })?;
        self.get_person(person_id)
    }

    fn set_staff_roles(
        &mut self,
        actor: &str,
        person_id: PersonId,
        roles: Vec<Role>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        let is_self = self
            .session
            .as_ref()
            .is_some_and(|s| s.person_id == person_id);
        if is_self && !roles.contains(&Role::Admin) {
            return Err(CoreError::Conflict(
                "you cannot take the admin role from yourself".into(),
            ));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::StaffRolesSet {
                    person_id,
                    roles: roles.clone(),
                },
            )
        })?;
        if is_self {
            if let Some(s) = self.session.as_mut() {
                s.roles = roles;
            }
        }
        self.get_person(person_id)
    }

    fn set_staff_password(
        &mut self,
        actor: &str,
        person_id: PersonId,
        password: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        auth::check_password_policy(password).map_err(|m| CoreError::invalid("password", m))?;
        let password_hash = auth::hash_secret(password);
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::StaffPasswordSet {
                    person_id,
                    password_hash,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn set_staff_pin(
        &mut self,
        actor: &str,
        person_id: PersonId,
        pin: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        auth::check_pin_policy(pin).map_err(|m| CoreError::invalid("pin", m))?;
        let pin_hash = auth::hash_secret(pin);
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::StaffPinSet {
                    person_id,
                    pin_hash,
                },
            )
        })?;
        self.get_person(person_id)
    }

    fn unlock_account(
        &mut self,
        actor: &str,
        person_id: PersonId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        self.store
            .write(|w| w.append(actor, now, EventBody::AccountUnlocked { person_id }))?;
        self.get_person(person_id)
    }

    // ---- journal -----------------------------------------------------------------------

    fn journal_page(&self, before_seq: Option<i64>, limit: Option<u32>) -> CoreResult<Value> {
        let limit = limit.unwrap_or(100).min(JOURNAL_PAGE_MAX);
        let mut stmt = self.store.conn().prepare(
            "SELECT seq, origin, origin_seq, occurred_at_us, actor, kind, payload FROM journal
             WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before_seq.unwrap_or(i64::MAX), limit], |r| {
            Ok(json!({
                "seq": r.get::<_, i64>(0)?,
                "origin": r.get::<_, String>(1)?,
                "origin_seq": r.get::<_, i64>(2)?,
                "occurred_at": from_micros(r.get(3)?),
                "actor": r.get::<_, String>(4)?,
                "kind": r.get::<_, String>(5)?,
                "payload": serde_json::from_str::<Value>(&r.get::<_, String>(6)?).unwrap_or(Value::Null),
            }))
        })?;
        Ok(Value::Array(rows.collect::<Result<_, _>>()?))
    }
}

/// Appends the events that make a staff member with an account (shared with the demo).
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_staff(
    w: &mut Writer<'_>,
    actor: &str,
    now: DateTime<Utc>,
    person_id: PersonId,
    name: FullName,
    details: PersonDetails,
    login: String,
    roles: Vec<Role>,
    password_hash: Option<String>,
    pin_hash: Option<String>,
) -> Result<(), crate::error::StoreError> {
    w.append(
        actor,
        now,
        EventBody::PersonEnrolled {
            person_id,
            person_kind: PersonKind::Staff,
            name,
            class_id: None,
            details,
        },
    )?;
    w.append(
        actor,
        now,
        EventBody::StaffAccountOpened { person_id, login },
    )?;
    w.append(actor, now, EventBody::StaffRolesSet { person_id, roles })?;
    if let Some(password_hash) = password_hash {
        w.append(
            actor,
            now,
            EventBody::StaffPasswordSet {
                person_id,
                password_hash,
            },
        )?;
    }
    if let Some(pin_hash) = pin_hash {
        w.append(
            actor,
            now,
            EventBody::StaffPinSet {
                person_id,
                pin_hash,
            },
        )?;
    }
    Ok(())
}

struct Account {
    person_id: PersonId,
    login: String,
    roles: Vec<Role>,
    password_hash: Option<String>,
    pin_hash: Option<String>,
    lock: LockState,
    display_name: String,
    status: PersonStatus,
}

struct CardRow {
    person_id: Option<PersonId>,
    state: CardState,
}

/// Who holds a presented card, and in what state the card is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardHolder {
    pub card_key: String,
    pub person_id: PersonId,
    pub state: CardState,
}

pub(crate) fn find_card_holder(
    conn: &rusqlite::Connection,
    card: &CardId,
) -> CoreResult<Option<CardHolder>> {
    let row = |r: &Row<'_>| -> rusqlite::Result<Option<CardHolder>> {
        let person: Option<String> = r.get(1)?;
        Ok(person
            .and_then(|p| p.parse().ok())
            .map(|person_id| CardHolder {
                card_key: r.get(0).unwrap_or_default(),
                person_id,
                state: CardState::parse(&r.get::<_, String>(2).unwrap_or_default())
                    .unwrap_or(CardState::Blocked),
            }))
    };
    let exact = conn
        .query_row(
            "SELECT card_key, person_id, state FROM cards WHERE card_key = ?1 AND person_id IS NOT NULL",
            [card.to_string()],
            row,
        )
        .optional()?
        .flatten();
    if exact.is_some() {
        return Ok(exact);
    }
    // Fall back on the low 24 bits: a full read matches a card enrolled by its printed
    // pair; a pair read matches a full enrolment — but only when exactly one card fits.
    let candidates: Vec<(String, Option<CardHolder>)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT card_key, person_id, state, bits FROM cards WHERE low24 = ?1 AND person_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([card.low24()], |r| Ok((r.get::<_, String>(0)?, row(r)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let fitting: Vec<CardHolder> = candidates
        .into_iter()
        .filter(|(key, _)| {
            CardId::parse_canonical(key).is_ok_and(|enrolled| enrolled.matches(card))
        })
        .filter_map(|(_, holder)| holder)
        .collect();
    Ok(if fitting.len() == 1 {
        fitting.into_iter().next()
    } else {
        None
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonSummary {
    pub id: PersonId,
    pub kind: PersonKind,
    pub full_name: String,
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    pub class_id: Option<String>,
    pub class_name: Option<String>,
    pub status: PersonStatus,
    pub external_id: Option<String>,
    pub has_photo: bool,
    pub position: Option<String>,
}

const PERSON_COLUMNS: &str =
    "p.id, p.kind, p.surname, p.name, p.patronymic, p.class_id, c.grade, c.letter, p.status, \
                              p.external_id, p.photo_sha256 IS NOT NULL, p.position";

fn person_summary_from_row(r: &Row<'_>) -> rusqlite::Result<PersonSummary> {
    let name = FullName {
        surname: r.get(2)?,
        name: r.get(3)?,
        patronymic: r.get(4)?,
    };
    let grade: Option<i64> = r.get(6)?;
    let letter: Option<String> = r.get(7)?;
    Ok(PersonSummary {
        id: parse_col(r, 0)?,
        kind: PersonKind::parse(&r.get::<_, String>(1)?).unwrap_or(PersonKind::Pupil),
        full_name: name.display(),
        surname: name.surname,
        name: name.name,
        patronymic: name.patronymic,
        class_id: r.get(5)?,
        class_name: grade.zip(letter).map(|(g, l)| format!("{g}{l}")),
        status: PersonStatus::parse(&r.get::<_, String>(8)?).unwrap_or(PersonStatus::Active),
        external_id: r.get(9)?,
        has_photo: r.get(10)?,
        position: r.get(11)?,
    })
}

fn parse_col<T: std::str::FromStr>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = r.get(idx)?;
    s.parse().map_err(|_| {
        rusqlite::Error::InvalidColumnType(idx, "id".into(), rusqlite::types::Type::Text)
    })
}

fn card_json(key: &str, state: &str, raw: &str, changed_at_us: i64) -> Value {
    let card = CardId::parse_canonical(key).ok();
    json!({
        "card": key,
        "state": state,
        "raw": raw,
        "hex": card.as_ref().map(|c| c.hex()),
        "wiegand26": card.as_ref().map(|c| { let (f, n) = c.wiegand26_pair(); format!("{f:03},{n:05}") }),
        "decimal": card.as_ref().map(|c| c.decimal()),
        "changed_at": from_micros(changed_at_us),
    })
}

pub(crate) fn check_name(input: &NameInput) -> CoreResult<FullName> {
    FullName::new(&input.surname, &input.name, &input.patronymic)
        .map_err(|(field, m)| CoreError::invalid(field, m))
}

/// Cleans free-text details; validates the date, the e-mail's shape and the phone's digits.
pub(crate) fn check_details(input: DetailsInput) -> CoreResult<PersonDetails> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let birth_date = match clean(input.birth_date) {
        None => None,
        Some(s) => Some(
            parse_date(&s)
                .ok_or_else(|| CoreError::invalid("birth_date", format!("{s:?} is not a date")))?,
        ),
    };
    let email = clean(input.email);
    if let Some(e) = &email {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !e.contains(' '));
        if !ok {
            return Err(CoreError::invalid(
                "email",
                format!("{e:?} is not an e-mail address"),
            ));
        }
    }
    let phone = clean(input.phone);
    if let Some(p) = &phone {
        let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
        if !(5..=15).contains(&digits)
            || p.chars()
                .any(|c| !(c.is_ascii_digit() || " +-()".contains(c)))
        {
            return Err(CoreError::invalid(
                "phone",
                format!("{p:?} is not a phone number"),
            ));
        }
    }
    Ok(PersonDetails {
        external_id: clean(input.external_id),
        birth_date,
        phone,
        email,
        position: clean(input.position),
    })
}

/// `2014-03-25` or `25.03.2014` (how Russian documents write dates).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

pub(crate) fn check_login(login: &str) -> CoreResult<String> {
    let login = login.trim().to_lowercase();
    let ok = (2..=40).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(login)
    } else {
        Err(CoreError::invalid(
            "login",
            "2–40 Latin letters, digits, . _ -",
        ))
    }
}

/// Accepts JPEG, PNG, WebP and SVG, checked by their first bytes, not by the name.
pub(crate) fn check_photo(declared_mime: &str, bytes: &[u8]) -> CoreResult<&'static str> {
    if bytes.len() > PHOTO_BYTES_MAX {
        return Err(CoreError::invalid(
            "photo",
            format!("larger than {} MiB", PHOTO_BYTES_MAX / 1024 / 1024),
        ));
    }
    let sniffed = sniff_image(bytes);
    sniffed.ok_or_else(|| {
        CoreError::invalid(
            "photo",
            format!("not a JPEG, PNG, WebP or SVG picture ({declared_mime})"),
        )
    })
}

pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
        (head.contains("<svg")).then_some("image/svg+xml")
    }
}
