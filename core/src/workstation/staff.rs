//! Staff members: the list, enrolment with an account, roles, passwords, PINs, unlocking.

use super::{
    check_login, check_name, check_password, check_pin, DetailsInput, NameInput, Workstation,
};
use crate::auth;
use crate::domain::{FullName, PersonId, PersonKind, Role};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::{EventBody, PersonDetails};
use crate::store::Writer;
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

impl Workstation {
    pub(super) fn list_staff(&self, now: DateTime<Utc>) -> CoreResult<Value> {
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
    pub(super) fn enrol_staff(
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
            return Err(CoreError::invalid(
                "login",
                Refusal::LoginTaken,
                format!("{login} is taken"),
            )
            .with("login", &login));
        }
        check_password("password", password)?;
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

    pub(super) fn set_staff_roles(
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
            return Err(CoreError::conflict(
                Refusal::CannotDemoteSelf,
                "you cannot take the admin role from yourself",
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

    pub(super) fn set_staff_password(
        &mut self,
        actor: &str,
        person_id: PersonId,
        password: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        check_password("password", password)?;
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

    pub(super) fn set_staff_pin(
        &mut self,
        actor: &str,
        person_id: PersonId,
        pin: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        self.account_by_person(person_id)?
            .ok_or_else(|| CoreError::not_found("staff account"))?;
        check_pin(pin)?;
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

    pub(super) fn unlock_account(
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
