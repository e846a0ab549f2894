//! Table-driven tests of the access and attendance rules over generated calendars
//! (`AccessRules::russian_default` of several school years), and properties over
//! arbitrary inputs. Each table row is a scenario: a date, a card at a gate, a pupil's
//! passes — and what the rules must answer.

mod attendance;
mod calendar;
mod config;
mod decisions;
mod properties;

use super::*;
use crate::domain::{CardState, ClassId, PersonStatus, Role};
use crate::peripherals::Direction;
use crate::time::{SchoolDate, SchoolTz};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use uuid::Uuid;

fn date(y: i32, m: u32, d: u32) -> SchoolDate {
    SchoolDate(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn zone(name: &str) -> SchoolTz {
    name.parse().unwrap()
}

fn moscow() -> SchoolTz {
    zone("Europe/Moscow")
}

/// The UTC instant of local `date` `h:m` in `tz`.
fn local(tz: SchoolTz, date: SchoolDate, h: u32, m: u32) -> DateTime<Utc> {
    tz.tz()
        .from_local_datetime(&date.0.and_time(hm(h, m)))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The UTC instant of `h:m` on `date` in Moscow.
fn msk(date: SchoolDate, h: u32, m: u32) -> DateTime<Utc> {
    local(moscow(), date, h, m)
}

fn class(n: u128, grade: u8) -> ClassRef {
    ClassRef {
        id: ClassId(Uuid::from_u128(n)),
        grade,
    }
}

/// The default rules of the school year 2025/26.
fn rules_2025() -> AccessRules {
    AccessRules::russian_default(NaiveDate::from_ymd_opt(2025, 9, 1).unwrap())
}

/// An active pupil of the class numbered `grade` in `grade`.
fn pupil(grade: u8) -> Holder {
    Holder::Pupil {
        status: PersonStatus::Active,
        class: Some(class(u128::from(grade), grade)),
    }
}

fn staff(roles: &[Role]) -> Holder {
    Holder::Staff {
        status: PersonStatus::Active,
        roles: roles.to_vec(),
    }
}

/// An active card of `holder` at a gate of the main building.
fn request(holder: Holder, direction: Direction, at: DateTime<Utc>) -> PassRequest {
    PassRequest {
        card: Some(CardState::Active),
        holder: Some(holder),
        direction,
        zone: ZoneId::main(),
        at,
        last_pass: None,
        guard_override: false,
    }
}

/// Changes to a request, so that a table row reads as one line.
trait RequestExt {
    fn card(self, card: Option<CardState>) -> Self;
    fn unbound(self) -> Self;
    /// The holder's last pass was `direction` at `at` in the main building.
    fn after(self, direction: Direction, at: DateTime<Utc>) -> Self;
    fn after_in(self, zone: &str, direction: Direction, at: DateTime<Utc>) -> Self;
    /// The guard pressed "let through".
    fn by_guard(self) -> Self;
}

impl RequestExt for PassRequest {
    fn card(self, card: Option<CardState>) -> Self {
        PassRequest { card, ..self }
    }
    fn unbound(self) -> Self {
        PassRequest {
            holder: None,
            ..self
        }
    }
    fn after(self, direction: Direction, at: DateTime<Utc>) -> Self {
        self.after_in(ZoneId::MAIN, direction, at)
    }
    fn after_in(self, zone: &str, direction: Direction, at: DateTime<Utc>) -> Self {
        PassRequest {
            last_pass: Some(LastPass {
                direction,
                at,
                zone: ZoneId::new(zone).unwrap(),
            }),
            ..self
        }
    }
    fn by_guard(self) -> Self {
        PassRequest {
            guard_override: true,
            ..self
        }
    }
}
