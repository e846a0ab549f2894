//! The school (its name and time zone), the head's summary, and classes.

use super::{
    check_title, parse_col, Workstation, DEMO_ACCOUNTS_LISTED_MAX, SCHOOL_NAME_LEN_MAX_CHARS,
};
use crate::demo::{DEMO_PASSWORD, DEMO_PIN};
use crate::domain::{ClassId, ClassName, FullName, Role};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::projection::parse_roles_column;
use crate::time::SchoolTz;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

/// The longest name of a workstation's post («Пост охраны, главный вход»), in characters.
const WORKSTATION_NAME_CHARS_MAX: usize = 60;

impl Workstation {
    pub(super) fn get_school(&self) -> CoreResult<Value> {
        let school: Option<(String, String, bool)> = self
            .store
            .conn()
            .query_row("SELECT name, time_zone, demo FROM school", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let accounts: i64 =
            self.store
                .conn()
                .query_row("SELECT count(*) FROM staff_accounts", [], |r| r.get(0))?;
        let (configured, name, time_zone, demo) = match school {
            Some((name, time_zone, demo)) => (true, name, time_zone, demo),
            None => (false, String::new(), "Europe/Moscow".to_owned(), false),
        };
        // The demo school's sign-in screen lists its accounts, password and PIN: they are
        // published (`crate::demo`) and the data is made up.
        let demo = if demo {
            json!({
                "password": DEMO_PASSWORD,
                "pin": DEMO_PIN,
                "accounts": self.demo_accounts()?,
            })
        } else {
            Value::Null
        };
        // `needs_setup`: a fresh database, whose first screen is the set-up form.
        Ok(json!({
            "configured": configured,
            "name": name,
            "time_zone": time_zone,
            "needs_setup": accounts == 0,
            "demo": demo,
            "post": self.workstation_post()?,
        }))
    }

    /// This workstation's post and name, `null` until set.
    fn workstation_post(&self) -> CoreResult<Value> {
        let found: Option<(String, String)> = self
            .store
            .conn()
            .query_row(
                "SELECT post, name FROM workstation_posts WHERE workstation = ?1",
                [self.store.device().to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found.map_or(
            Value::Null,
            |(post, name)| json!({"post": post, "name": name}),
        ))
    }

    /// Says which post this workstation serves and what it is called; the same answer
    /// again writes nothing.
    pub(super) fn set_workstation_post(
        &mut self,
        actor: &str,
        post: crate::peripherals::Post,
        name: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::invalid(
                "name",
                Refusal::Empty,
                "the post's name is blank",
            ));
        }
        let length = name.chars().count();
        if length > WORKSTATION_NAME_CHARS_MAX {
            return Err(CoreError::invalid(
                "name",
                Refusal::TooLong,
                format!("a post's name is at most {WORKSTATION_NAME_CHARS_MAX} characters"),
            )
            .with("max", WORKSTATION_NAME_CHARS_MAX));
        }
        let wanted = json!({"post": post, "name": name});
        if self.workstation_post()? != wanted {
            self.store.write(|w| {
                w.append(
                    actor,
                    now,
                    EventBody::WorkstationPostSet {
                        post,
                        name: name.to_owned(),
                    },
                )
            })?;
        }
        Ok(wanted)
    }

    /// Was the school generated as the demo school (`school_configured.demo`)?
    pub(super) fn is_demo_school(&self) -> CoreResult<bool> {
        Ok(self
            .store
            .conn()
            .query_row("SELECT demo FROM school", [], |r| r.get(0))
            .optional()?
            .unwrap_or(false))
    }

    /// The demo school's accounts that can sign in: admins first, then director, guard,
    /// cashier, librarian (as the sign-in screen lists them), each with a form of their
    /// active staff card that the card sign-in reads back as that card.
    fn demo_accounts(&self) -> CoreResult<Vec<Value>> {
        const RANK: [Role; 5] = [
            Role::Admin,
            Role::Director,
            Role::Guard,
            Role::Cashier,
            Role::Librarian,
        ];
        let mut stmt = self.store.conn().prepare(
            "SELECT a.login, a.roles, p.surname, p.name, p.patronymic,
                    (SELECT c.card_key FROM cards c WHERE c.person_id = a.person_id AND c.state = 'active'
                     ORDER BY c.changed_at_us DESC, c.card_key LIMIT 1)
             FROM staff_accounts a JOIN persons p ON p.id = a.person_id
             WHERE p.status = 'active' AND a.roles != '' AND a.password_hash IS NOT NULL",
        )?;
        let mut accounts: Vec<(usize, String, Value)> = stmt
            .query_map([], |r| {
                let login: String = r.get(0)?;
                let roles = parse_roles_column(&r.get::<_, String>(1)?);
                let rank = RANK
                    .iter()
                    .position(|role| roles.contains(role))
                    .unwrap_or(RANK.len());
                let full_name = FullName {
                    surname: r.get(2)?,
                    name: r.get(3)?,
                    patronymic: r.get(4)?,
                }
                .display();
                let account = json!({
                    "login": login,
                    "roles": roles,
                    "full_name": full_name,
                    // The canonical key (`40:55007EE424`): `CardId::from_str` reads it back.
                    "card_typed": r.get::<_, Option<String>>(5)?,
                });
                Ok((rank, login, account))
            })?
            .collect::<Result<_, _>>()?;
        accounts.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(accounts
            .into_iter()
            .take(DEMO_ACCOUNTS_LISTED_MAX)
            .map(|(_, _, account)| account)
            .collect())
    }

    /// The school's name (empty until the school is configured).
    pub fn school_name(&self) -> CoreResult<String> {
        Ok(self
            .store
            .conn()
            .query_row("SELECT name FROM school", [], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
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
            .unwrap_or_else(|| crate::time::DEFAULT_TZ.parse().expect("valid zone")))
    }

    pub(super) fn configure_school(
        &mut self,
        actor: &str,
        name: &str,
        time_zone: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_title("name", name, SCHOOL_NAME_LEN_MAX_CHARS)?;
        let tz = check_time_zone(time_zone)?;
        // Renaming the demo school keeps it the demo school.
        let demo = self.is_demo_school()?;
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::SchoolConfigured {
                    name,
                    time_zone: tz.to_string(),
                    demo,
                },
            )
        })?;
        self.get_school()
    }

    pub(super) fn school_summary(&self, now: DateTime<Utc>) -> CoreResult<Value> {
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

    pub(super) fn list_classes(&self) -> CoreResult<Value> {
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

    pub(super) fn require_class(&self, class_id: ClassId) -> CoreResult<()> {
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

    pub(super) fn create_class(
        &mut self,
        actor: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let name = check_class_name(name)?;
        if self.class_by_name(&name)?.is_some() {
            return Err(class_exists(&name));
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

    pub(super) fn rename_class(
        &mut self,
        actor: &str,
        class_id: ClassId,
        name: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.require_class(class_id)?;
        let name = check_class_name(name)?;
        match self.class_by_name(&name)? {
            Some(other) if other != class_id => return Err(class_exists(&name)),
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

    pub(super) fn archive_class(
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
            let name: String = self.store.conn().query_row(
                "SELECT grade || letter FROM classes WHERE id = ?1",
                [class_id.to_string()],
                |r| r.get(0),
            )?;
            return Err(CoreError::conflict(
                Refusal::ClassNotEmpty,
                format!("the class {name} still has {pupils} pupils"),
            )
            .with("name", name)
            .with("pupils", pupils));
        }
        self.store
            .write(|w| w.append(actor, now, EventBody::ClassArchived { class_id }))?;
        Ok(json!({ "ok": true }))
    }
}

pub(super) fn check_time_zone(typed: &str) -> CoreResult<SchoolTz> {
    typed.parse().map_err(|message: String| {
        CoreError::invalid("time_zone", Refusal::BadTimeZone, message).with("value", typed.trim())
    })
}

fn check_class_name(typed: &str) -> CoreResult<ClassName> {
    typed.parse().map_err(|message: String| {
        CoreError::invalid("name", Refusal::BadClassName, message).with("value", typed.trim())
    })
}

fn class_exists(name: &ClassName) -> CoreError {
    CoreError::conflict(Refusal::ClassExists, format!("class {name} already exists"))
        .with("name", name)
}
