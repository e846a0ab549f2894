//! The demo school (DESIGN.md §2, standalone mode): `make run` opens a workstation on a
//! generated «Лицей «Держава»» — 33 classes of about 27 pupils, their parents, teachers
//! and staff with accounts, cards of every format the readers know, and portraits.
//!
//! - `school.rs` plans the school as plain data from a seed (deterministic: the same seed
//!   gives the same people, ids, cards, pictures and logins);
//! - `names.rs` holds the name lists and the grammar of gendered surnames and patronymics;
//! - `cards.rs` issues unique cards in the formats of HARDWARE.md;
//! - `avatar.rs` draws the SVG portraits;
//! - `canteen.rs` plans the canteen: catalogue, complexes, benefits, balances, menus;
//! - `library.rs` plans the library: textbooks handed to grades 5–6, fiction with loans
//!   over the last weeks (some overdue), reference books;
//! - this file journals the plan: every fact goes through `Store::write` as an event, in
//!   one transaction, exactly as if an admin had typed the school in.

mod avatar;
mod canteen;
mod cards;
mod library;
mod names;
mod school;
#[cfg(test)]
mod tests;

use crate::auth;
use crate::domain::{CardState, Role};
use crate::error::{CoreError, CoreResult, Refusal, StoreError};
use crate::events::EventBody;
use crate::store::{Store, Writer};
use crate::workstation::{append_staff, Progress};
use chrono::{DateTime, Duration, Utc};
use rusqlite::OptionalExtension;
use schoolcard_proto::CardId;
use serde::Serialize;
use std::path::Path;

pub use school::SCHOOL_NAME;

/// The seed the app uses: the year the lyceum's card system started.
pub const DEMO_SEED: u64 = 2019;
/// The password of every demo staff account.
pub const DEMO_PASSWORD: &str = "demo1234";
/// The PIN of every demo staff account (sign-in by card and PIN).
pub const DEMO_PIN: &str = "1234";

/// A stage reports its progress after every this many items (people, photos): often
/// enough for a moving bar, rare enough not to flood the UI channel.
pub const PROGRESS_EVERY_ITEMS: u64 = 50;

/// The demo's events are stamped one microsecond apart, starting this long before `now`:
/// their order in time is their order in the journal, and none lies in the future.
const CLOCK_START_BEFORE_NOW_US: i64 = 1_000_000;

/// What was generated, for the app's first screen and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    pub seed: u64,
    pub school: String,
    pub classes: u64,
    pub pupils: u64,
    pub guardians: u64,
    pub staff: u64,
    /// Cards ever bound, including lost and blocked ones.
    pub cards: u64,
    pub cards_lost: u64,
    pub cards_blocked: u64,
    pub pupils_without_card: u64,
    pub photos: u64,
    pub pupils_without_photo: u64,
    pub events: u64,
    /// The accounts to sign in with (password [`DEMO_PASSWORD`], PIN [`DEMO_PIN`]).
    pub accounts: Vec<DemoAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoAccount {
    pub login: String,
    pub full_name: String,
    pub position: String,
    pub roles: Vec<Role>,
    /// The staff card, canonical (`40:55007EE424`).
    pub card: CardId,
    /// The same card as its reader printed it (`Em-Marine[5500] 126,58404`).
    pub card_raw: String,
    /// A form the card sign-in reads back as exactly this card (`55:00:7E:E4:24`).
    pub card_typed: String,
}

/// Generates the demo school into `store`, which must hold no school yet, as one
/// transaction. The same `seed` gives the same school; `now` decides the school year
/// (and so the pupils' birth dates) and stamps the events.
pub fn generate(
    store: &mut Store,
    seed: u64,
    now: DateTime<Utc>,
    progress: &dyn Fn(Progress),
) -> CoreResult<DemoSummary> {
    generate_into(store, seed, now, progress, Occupied::Refuse)?.ok_or_else(already_holds_a_school)
}

/// For the app's standalone start: opens (or creates) the database at `path` and fills it
/// with the demo school unless a school is configured there already (then `None`).
///
/// A demo school generated before the demo had devices gets its simulated readers and
/// turnstile now, once: a demo where devices were ever configured is left as it is.
pub fn ensure_demo(path: &Path, seed: u64, now: DateTime<Utc>) -> CoreResult<Option<DemoSummary>> {
    let mut store = Store::open(path)?;
    if school_configured(store.conn())? {
        add_demo_devices_once(&mut store, seed, now)?;
        return Ok(None);
    }
    generate_into(&mut store, seed, now, &|_| {}, Occupied::Skip)
}

fn add_demo_devices_once(store: &mut Store, seed: u64, now: DateTime<Utc>) -> CoreResult<()> {
    let actor = format!("device:{}", store.device());
    store.write(|w| {
        let (demo, ever_configured): (bool, bool) = w.conn().query_row(
            "SELECT (SELECT demo FROM school),
                    EXISTS (SELECT 1 FROM journal WHERE kind = 'peripheral_configured')",
            [],
            |r| Ok((r.get::<_, Option<bool>>(0)?.unwrap_or(false), r.get(1)?)),
        )?;
        if !demo || ever_configured {
            return Ok(());
        }
        for (peripheral_id, spec) in school::plan_peripherals_for(seed) {
            w.append(
                &actor,
                now,
                EventBody::PeripheralConfigured {
                    peripheral_id,
                    spec,
                },
            )?;
        }
        Ok::<(), CoreError>(())
    })
}

/// What to do when the database turns out to hold a school after all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Occupied {
    Refuse,
    /// Another process got there first: leave its school alone.
    Skip,
}

fn school_configured(conn: &rusqlite::Connection) -> CoreResult<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM school", [], |_| Ok(()))
        .optional()?
        .is_some())
}

fn generate_into(
    store: &mut Store,
    seed: u64,
    now: DateTime<Utc>,
    progress: &dyn Fn(Progress),
    occupied: Occupied,
) -> CoreResult<Option<DemoSummary>> {
    progress(Progress {
        stage: "plan".into(),
        done: 0,
        total: 1,
    });
    let plan = school::plan(seed, now);
    // Argon2id is slow on purpose: hash once, and every account carries the same PHC string.
    let password_hash = auth::hash_secret(DEMO_PASSWORD);
    let pin_hash = auth::hash_secret(DEMO_PIN);
    progress(Progress {
        stage: "plan".into(),
        done: 1,
        total: 1,
    });

    let actor = format!("device:{}", store.device());
    store.write(|w| {
        // Checked inside the write transaction, so two processes cannot both generate.
        if school_configured(w.conn())? {
            return match occupied {
                Occupied::Skip => Ok(None),
                Occupied::Refuse => Err(already_holds_a_school()),
            };
        }
        let populated: bool = w.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM persons) OR EXISTS (SELECT 1 FROM classes)",
            [],
            |r| r.get(0),
        )?;
        if populated {
            return Err(CoreError::conflict(
                Refusal::DatabaseNotEmpty,
                "the database holds people or classes but no school; the demo goes only into an empty one",
            ));
        }
        let events_before = journal_len(w)?;
        let mut journal = Journal { w, actor: &actor, at: now - Duration::microseconds(CLOCK_START_BEFORE_NOW_US) };
        write_plan(&mut journal, &plan, &password_hash, &pin_hash, progress)?;
        for event in canteen::plan(seed, now, &plan) {
            journal.append(event)?;
        }
        for (at, event) in library::plan(seed, now, &plan) {
            journal.w.append(journal.actor, at, event)?;
        }
        let events = journal_len(journal.w)? - events_before;
        Ok(Some(summarize(&plan, seed, events)))
    })
}

fn already_holds_a_school() -> CoreError {
    CoreError::conflict(Refusal::AlreadySetUp, "the database already holds a school")
}

fn journal_len(w: &Writer<'_>) -> Result<u64, StoreError> {
    Ok(w.conn()
        .query_row("SELECT count(*) FROM journal", [], |r| r.get::<_, i64>(0))? as u64)
}

/// The write transaction with the demo's clock.
struct Journal<'j, 'w> {
    w: &'j mut Writer<'w>,
    actor: &'j str,
    at: DateTime<Utc>,
}

impl Journal<'_, '_> {
    fn tick(&mut self) -> DateTime<Utc> {
        self.at += Duration::microseconds(1);
        self.at
    }

    fn append(&mut self, body: EventBody) -> Result<(), StoreError> {
        let at = self.tick();
        self.w.append(self.actor, at, body)?;
        Ok(())
    }
}

/// Progress of one stage, reported every [`PROGRESS_EVERY_ITEMS`] items and at its end.
struct Stage<'p> {
    name: &'static str,
    done: u64,
    reported: u64,
    total: u64,
    progress: &'p dyn Fn(Progress),
}

impl<'p> Stage<'p> {
    fn start(name: &'static str, total: usize, progress: &'p dyn Fn(Progress)) -> Self {
        let mut stage = Stage {
            name,
            done: 0,
            reported: 0,
            total: total as u64,
            progress,
        };
        stage.report();
        stage
    }

    fn step(&mut self) {
        self.done += 1;
        if self.done - self.reported >= PROGRESS_EVERY_ITEMS || self.done == self.total {
            self.report();
        }
    }

    fn report(&mut self) {
        self.reported = self.done;
        (self.progress)(Progress {
            stage: self.name.into(),
            done: self.done,
            total: self.total,
        });
    }
}

fn write_plan(
    j: &mut Journal<'_, '_>,
    plan: &school::School,
    password_hash: &str,
    pin_hash: &str,
    progress: &dyn Fn(Progress),
) -> CoreResult<()> {
    j.append(EventBody::SchoolConfigured {
        name: plan.name.clone(),
        time_zone: plan.time_zone.clone(),
        demo: true,
    })?;

    let mut stage = Stage::start("classes", plan.classes.len(), progress);
    for class in &plan.classes {
        j.append(EventBody::ClassCreated {
            class_id: class.id,
            grade: class.grade,
            letter: class.letter.clone(),
        })?;
        stage.step();
    }

    let mut stage = Stage::start("staff", plan.staff.len(), progress);
    for member in &plan.staff {
        match &member.account {
            Some(account) => {
                let at = j.tick();
                append_staff(
                    j.w,
                    j.actor,
                    at,
                    member.id,
                    member.name.clone(),
                    member.details.clone(),
                    account.login.clone(),
                    account.roles.clone(),
                    Some(password_hash.to_owned()),
                    Some(pin_hash.to_owned()),
                )?;
            }
            None => enrol(j, member)?,
        }
        stage.step();
    }

    let mut stage = Stage::start("pupils", plan.pupils.len(), progress);
    for pupil in &plan.pupils {
        enrol(j, pupil)?;
        stage.step();
    }

    let mut stage = Stage::start("guardians", plan.guardians.len(), progress);
    for guardian in &plan.guardians {
        enrol(j, guardian)?;
        for (pupil_id, relation) in &guardian.children {
            j.append(EventBody::GuardianLinked {
                guardian_id: guardian.id,
                pupil_id: *pupil_id,
                relation: relation.clone(),
            })?;
        }
        stage.step();
    }

    let holders: Vec<&school::Person> = plan
        .staff
        .iter()
        .chain(&plan.pupils)
        .filter(|p| !p.cards.is_empty())
        .collect();
    let mut stage = Stage::start("cards", holders.len(), progress);
    for holder in holders {
        for planned in &holder.cards {
            j.append(EventBody::CardBound {
                card: planned.issued.card,
                person_id: holder.id,
                raw: planned.issued.raw.clone(),
            })?;
            if planned.state != CardState::Active {
                j.append(EventBody::CardStateChanged {
                    card: planned.issued.card,
                    state: planned.state,
                    reason: planned.reason.clone(),
                })?;
            }
        }
        stage.step();
    }

    let sitters: Vec<(&school::Person, &Vec<u8>)> = plan
        .staff
        .iter()
        .chain(&plan.pupils)
        .filter_map(|p| p.photo.as_ref().map(|photo| (p, photo)))
        .collect();
    let mut stage = Stage::start("photos", sitters.len(), progress);
    for (person, photo) in sitters {
        let sha256 = j.w.put_photo(avatar::MIME, photo)?;
        j.append(EventBody::PhotoSet {
            person_id: person.id,
            sha256,
            mime: avatar::MIME.to_owned(),
        })?;
        stage.step();
    }

    for (peripheral_id, spec) in &plan.peripherals {
        j.append(EventBody::PeripheralConfigured {
            peripheral_id: *peripheral_id,
            spec: spec.clone(),
        })?;
    }
    Ok(())
}

fn enrol(j: &mut Journal<'_, '_>, person: &school::Person) -> Result<(), StoreError> {
    j.append(EventBody::PersonEnrolled {
        person_id: person.id,
        person_kind: person.kind,
        name: person.name.clone(),
        class_id: person.class_id,
        details: person.details.clone(),
    })
}

fn summarize(plan: &school::School, seed: u64, events: u64) -> DemoSummary {
    let count = |n: usize| n as u64;
    let all_cards = || plan.staff.iter().chain(&plan.pupils).flat_map(|p| &p.cards);
    let in_state = |state: CardState| count(all_cards().filter(|c| c.state == state).count());
    DemoSummary {
        seed,
        school: plan.name.clone(),
        classes: count(plan.classes.len()),
        pupils: count(plan.pupils.len()),
        guardians: count(plan.guardians.len()),
        staff: count(plan.staff.len()),
        cards: count(all_cards().count()),
        cards_lost: in_state(CardState::Lost),
        cards_blocked: in_state(CardState::Blocked),
        pupils_without_card: count(plan.pupils.iter().filter(|p| p.cards.is_empty()).count()),
        photos: count(
            plan.staff
                .iter()
                .chain(&plan.pupils)
                .filter(|p| p.photo.is_some())
                .count(),
        ),
        pupils_without_photo: count(plan.pupils.iter().filter(|p| p.photo.is_none()).count()),
        events,
        accounts: plan
            .staff
            .iter()
            .filter_map(|member| {
                let account = member.account.as_ref()?;
                let card = member
                    .cards
                    .iter()
                    .rev()
                    .find(|c| c.state == CardState::Active)?;
                Some(DemoAccount {
                    login: account.login.clone(),
                    full_name: member.name.display(),
                    position: member.details.position.clone().unwrap_or_default(),
                    roles: account.roles.clone(),
                    card: card.issued.card,
                    card_raw: card.issued.raw.clone(),
                    card_typed: card
                        .issued
                        .card
                        .to_bytes()
                        .iter()
                        .map(|b| format!("{b:02X}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                })
            })
            .collect(),
    }
}
