//! The guard's post seen from the screens: the access rules, who is inside now, the day's
//! counters and last passages, each class's attendance and an admin's corrections.
//! (Deciding a card at a gate is `crate::gatepost`, on its own connection.)

use super::{class_label, name_at, Workstation};
use crate::access::{
    pupil_attendance, AccessRules, AttendanceCorrection, ClassRef, ConfirmedPass, CorrectedMark,
    DayAttendance, Presence,
};
use crate::domain::{ClassId, PersonId};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::peripherals::Direction;
use crate::time::{from_micros, school_year_start, SchoolDate, SchoolTz};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Passages the guard's screen lists, newest first.
pub const LAST_PASSAGES_LISTED: u32 = 50;
/// Longest reason for an attendance correction.
pub const CORRECTION_REASON_LEN_MAX_CHARS: usize = 300;

/// The access rules as configured, if they were.
pub(crate) fn stored_access_rules(conn: &Connection) -> CoreResult<Option<AccessRules>> {
    let text: Option<String> = conn
        .query_row("SELECT rules FROM access_rules", [], |r| r.get(0))
        .optional()?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| {
            CoreError::Store(crate::error::StoreError::CorruptEvent {
                seq: 0,
                message: format!("access rules: {e}"),
            })
        })
    })
    .transpose()
}

/// The rules in force at `at`: as configured, or the defaults for its school year.
pub(crate) fn rules_in_force(
    conn: &Connection,
    tz: SchoolTz,
    at: DateTime<Utc>,
) -> CoreResult<AccessRules> {
    Ok(stored_access_rules(conn)?
        .unwrap_or_else(|| AccessRules::russian_default(school_year_start(tz, at))))
}

impl Workstation {
    /// The rules in force: as configured, or the defaults for the school year of `now`.
    pub fn access_rules(&self, now: DateTime<Utc>) -> CoreResult<AccessRules> {
        rules_in_force(self.store.conn(), self.school_tz()?, now)
    }

    pub(super) fn get_access_rules(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let configured = stored_access_rules(self.store.conn())?.is_some();
        Ok(json!({ "rules": self.access_rules(now)?, "configured": configured }))
    }

    pub(super) fn configure_access_rules(
        &mut self,
        actor: &str,
        rules: AccessRules,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        if let Some(problem) = rules.problems().into_iter().next() {
            let code = serde_json::to_value(problem.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(CoreError::invalid(
                "rules",
                Refusal::BadAccessRules,
                format!("{}: {code}", problem.field),
            )
            .with("problem", code)
            .with("at", problem.field));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::AccessRulesConfigured {
                    rules: Box::new(rules),
                },
            )
        })?;
        Ok(json!({}))
    }

    /// Counters and the last passages for the guard's screen.
    pub(super) fn guard_summary(&self, now: DateTime<Utc>) -> CoreResult<Value> {
        let conn = self.store.conn();
        let tz = self.school_tz()?;
        let today = tz.school_date(now).0.to_string();
        let mut inside: BTreeMap<String, i64> = BTreeMap::new();
        {
            let mut statement = conn.prepare_cached(
                "SELECT p.kind, count(*) FROM presence pr JOIN persons p ON p.id = pr.person_id
                 WHERE pr.inside = 1 GROUP BY p.kind",
            )?;
            let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            for row in rows {
                let (kind, count) = row?;
                inside.insert(kind, count);
            }
        }
        let arrived: i64 = conn.query_row(
            "SELECT count(*) FROM attendance_days a JOIN persons p ON p.id = a.person_id
             WHERE a.school_date = ?1 AND a.first_entry_us IS NOT NULL AND p.kind = 'pupil'",
            [&today],
            |r| r.get(0),
        )?;
        let late = self
            .day_attendance_rows(tz, tz.school_date(now), None, now)?
            .iter()
            .filter(|row| row.1.late)
            .count();
        let last = self.last_passages(LAST_PASSAGES_LISTED)?;
        let get = |kind: &str| inside.get(kind).copied().unwrap_or(0);
        Ok(json!({
            "inside": {
                "pupils": get("pupil"),
                "staff": get("staff"),
                "guardians": get("guardian"),
                "visitors": get("visitor"),
                "total": inside.values().sum::<i64>(),
            },
            "arrived_today": arrived,
            "late_today": late,
            "last_passages": last,
        }))
    }

    fn last_passages(&self, limit: u32) -> CoreResult<Vec<Value>> {
        let conn = self.store.conn();
        let mut statement = conn.prepare_cached(
            "SELECT ps.passage_id, ps.at_us, ps.decided_at_us, ps.person_id, ps.card_key, ps.raw,
                    ps.reader_id, pe.name, ps.gate_id, ps.direction, ps.allowed, ps.reason,
                    ps.flags, ps.verified_by, ps.outcome,
                    p.surname, p.name, p.patronymic, p.kind, p.position, p.status,
                    c.grade, c.letter, cards.state
             FROM passages ps
             LEFT JOIN persons p ON p.id = ps.person_id
             LEFT JOIN classes c ON c.id = p.class_id
             LEFT JOIN peripherals pe ON pe.id = ps.reader_id
             LEFT JOIN cards ON cards.card_key = ps.card_key
             ORDER BY ps.at_us DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit], |r| {
            let person_id: Option<String> = r.get(3)?;
            let full_name = name_at(r, 15)?;
            let grade: Option<u8> = r.get(21)?;
            let letter: Option<String> = r.get(22)?;
            let flags: String = r.get(12)?;
            let direction: String = r.get(9)?;
            let reason: String = r.get(11)?;
            let overridden = flags
                .split(',')
                .find_map(|f| f.strip_prefix("overridden:"))
                .map(str::to_owned);
            Ok(json!({
                "passage_id": r.get::<_, String>(0)?,
                "at": from_micros(r.get(2)?),
                "decided_at": from_micros(r.get(2)?),
                "written_at": from_micros(r.get(1)?),
                "reader": {
                    "device_id": r.get::<_, Option<String>>(6)?,
                    "name": r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    "direction": direction,
                },
                "gate_id": r.get::<_, Option<String>>(8)?,
                "card": r.get::<_, Option<String>>(4)?,
                "raw": r.get::<_, String>(5)?,
                "card_state": r.get::<_, Option<String>>(23)?,
                "person": person_id.map(|id| json!({
                    "id": id,
                    "full_name": full_name,
                    "kind": r.get::<_, Option<String>>(18).ok().flatten(),
                    "class_name": class_label(grade, letter),
                    "position": r.get::<_, Option<String>>(19).ok().flatten(),
                    "status": r.get::<_, Option<String>>(20).ok().flatten(),
                    "photo": Value::Null,
                })),
                "decision": {
                    "allowed": r.get::<_, bool>(10)?,
                    "reason": reason,
                    "flags": flags.split(',').filter(|f| !f.is_empty() && !f.starts_with("overridden:")).collect::<Vec<_>>(),
                    "overridden": overridden,
                },
                "awaiting": Value::Null,
                "deadline": Value::Null,
                "verified_by": r.get::<_, String>(13)?,
                "outcome": r.get::<_, String>(14)?,
                "direction": direction,
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everyone inside now (by their last confirmed passage), ordered by kind, class and
    /// name. Needs no sign-in: the evacuation list is printed from it in an emergency,
    /// whoever is at the desk.
    pub fn people_inside(&self) -> CoreResult<Vec<PersonInside>> {
        people_inside(self.store.conn())
    }

    /// Everyone inside now, grouped: each class, staff, guardians, visitors.
    pub(super) fn inside_now(&self) -> CoreResult<Value> {
        let mut groups: Vec<(String, String, &'static str, Vec<Value>)> = Vec::new();
        let people = self.people_inside()?;
        let total = people.len();
        for person in people {
            let (key, title, group_kind) =
                match (person.kind.as_str(), &person.class_id, &person.class_name) {
                    ("pupil", Some(id), Some(name)) => (id.clone(), name.clone(), "class"),
                    ("pupil", _, _) => ("no_class".into(), "—".into(), "class"),
                    ("staff", _, _) => ("staff".into(), "staff".into(), "staff"),
                    ("visitor", _, _) => ("visitors".into(), "visitors".into(), "visitors"),
                    _ => ("guardians".into(), "guardians".into(), "guardians"),
                };
            let row = json!({
                "id": person.person_id,
                "full_name": person.full_name,
                "class_name": person.class_name,
                "position": person.position,
                "since": person.since,
                "gate": person.gate,
                "visiting": person.visiting,
            });
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(group) => group.3.push(row),
                None => groups.push((key, title, group_kind, vec![row])),
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(key, title, kind, people)| {
                json!({"key": key, "title": title, "kind": kind, "people": people})
            })
            .collect();
        Ok(json!({ "groups": groups, "total": total }))
    }

    /// The attendance of every pupil (of one class, if given) on `date`, by the rules.
    fn day_attendance_rows(
        &self,
        tz: SchoolTz,
        date: SchoolDate,
        class_id: Option<ClassId>,
        now: DateTime<Utc>,
    ) -> CoreResult<Vec<(PupilRow, crate::access::DayAttendance)>> {
        let rules = self.access_rules(now)?;
        let rows = period_attendance(self.store.conn(), &rules, tz, date.0, date.0, class_id)?;
        Ok(rows
            .into_iter()
            .filter_map(|(row, mut days)| days.pop().map(|day| (row, day)))
            .collect())
    }

    pub(super) fn day_attendance(
        &self,
        date: Option<&str>,
        class_id: Option<ClassId>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let date = match date {
            Some(text) => SchoolDate(parse_day(text)?),
            None => tz.school_date(now),
        };
        let rows = self.day_attendance_rows(tz, date, None, now)?;
        let rules = self.access_rules(now)?;
        let mut classes: Vec<(String, String, [u32; 6])> = Vec::new();
        for (row, day) in &rows {
            let index = match classes.iter().position(|c| c.0 == row.class_id) {
                Some(index) => index,
                None => {
                    classes.push((row.class_id.clone(), row.class_name.clone(), [0; 6]));
                    classes.len() - 1
                }
            };
            let counts = &mut classes[index].2;
            counts[0] += 1;
            match day.presence {
                Presence::Present => counts[1] += 1,
                Presence::Absent => counts[4] += 1,
                Presence::Excused => counts[5] += 1,
                Presence::NoLessons => {}
            }
            counts[2] += u32::from(day.late);
            counts[3] += u32::from(day.left_early);
        }
        let classes: Vec<Value> = classes
            .into_iter()
            .map(|(class_id, class_name, c)| {
                json!({
                    "class_id": class_id, "class_name": class_name, "pupils": c[0],
                    "present": c[1], "late": c[2], "left_early": c[3], "absent": c[4],
                    "excused": c[5],
                })
            })
            .collect();
        let detail: Option<Vec<Value>> = class_id.map(|class_id| {
            rows.iter()
                .filter(|(row, _)| row.class_id == class_id.to_string())
                .map(|(row, day)| {
                    json!({
                        "person_id": row.person_id,
                        "full_name": row.full_name,
                        "class_name": row.class_name,
                        "first_entry": day.first_entry,
                        "last_exit": day.last_exit,
                        "presence": day.presence,
                        "late": day.late,
                        "late_by_minutes": day.late_by_minutes,
                        "left_early": day.left_early,
                        "corrected": day.corrected,
                    })
                })
                .collect()
        });
        Ok(json!({
            "date": date.0,
            // The day of the first grade with lessons (seniors may study on a Saturday the
            // juniors have off); the first grade's when no grade has any.
            "day_kind": (1..=11)
                .map(|grade| rules.calendar.pupil_day(date, grade))
                .find(|kind| matches!(kind, crate::access::DayKind::SchoolDay | crate::access::DayKind::ShortenedDay))
                .unwrap_or_else(|| rules.calendar.pupil_day(date, 1)),
            "classes": classes,
            "rows": detail,
        }))
    }

    pub(super) fn correct_attendance(
        &mut self,
        actor: &str,
        person_id: PersonId,
        date: &str,
        mark: CorrectedMark,
        reason: &str,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let date = parse_day(date)?;
        let reason = super::check_title("reason", reason, CORRECTION_REASON_LEN_MAX_CHARS)?;
        let kind: Option<String> = self
            .store
            .conn()
            .query_row(
                "SELECT kind FROM persons WHERE id = ?1",
                [person_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match kind.as_deref() {
            None => return Err(CoreError::not_found(format!("person {person_id}"))),
            Some("pupil") => {}
            Some(_) => {
                return Err(CoreError::invalid(
                    "person_id",
                    Refusal::WrongPersonKind,
                    "attendance is kept for pupils",
                )
                .with("expected", "pupil"))
            }
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::AttendanceCorrected {
                    person_id,
                    school_date: date,
                    mark,
                    reason,
                },
            )
        })?;
        Ok(json!({}))
    }
}

/// The attendance of every pupil (of one class, if given; those who have not left) on
/// each date `from..=to` by `rules`: per pupil, one [`DayAttendance`] per date in order
/// (weekends and holidays included, with their [`DayKind`](crate::access::DayKind)).
/// Reads the period's confirmed passages and corrections once each, so a month's register
/// costs three queries, not one per pupil and day. An empty vector of days if `to < from`.
pub(crate) fn period_attendance(
    conn: &Connection,
    rules: &AccessRules,
    tz: SchoolTz,
    from: NaiveDate,
    to: NaiveDate,
    class_id: Option<ClassId>,
) -> CoreResult<Vec<(PupilRow, Vec<DayAttendance>)>> {
    let dates: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let index_of = |text: &str| -> Option<usize> {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        usize::try_from(date.signed_duration_since(from).num_days())
            .ok()
            .filter(|i| *i < dates.len())
    };
    let (from_text, to_text) = (from.to_string(), to.to_string());
    // Per person, per date of the period: their confirmed passes.
    let mut passes: HashMap<String, Vec<Vec<ConfirmedPass>>> = HashMap::new();
    {
        let mut statement = conn.prepare_cached(
            "SELECT person_id, at_us, direction, school_date FROM passages
             WHERE school_date BETWEEN ?1 AND ?2 AND outcome = 'passed'
               AND person_id IS NOT NULL",
        )?;
        let mut rows = statement.query([&from_text, &to_text])?;
        while let Some(r) = rows.next()? {
            let Some(index) = index_of(r.get_ref(3)?.as_str().unwrap_or_default()) else {
                continue;
            };
            let person: String = r.get(0)?;
            let direction = if r.get_ref(2)?.as_str().unwrap_or_default() == "exit" {
                Direction::Exit
            } else {
                Direction::Entry
            };
            let days = passes
                .entry(person)
                .or_insert_with(|| vec![Vec::new(); dates.len()]);
            days[index].push(ConfirmedPass {
                at: from_micros(r.get(1)?),
                direction,
            });
        }
    }
    let mut corrections: HashMap<(String, usize), AttendanceCorrection> = HashMap::new();
    {
        let mut statement = conn.prepare_cached(
            "SELECT person_id, mark, reason, school_date FROM attendance_corrections
             WHERE school_date BETWEEN ?1 AND ?2",
        )?;
        let rows = statement.query_map([&from_text, &to_text], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (person, mark, reason, date) = row?;
            let Some(index) = index_of(&date) else {
                continue;
            };
            if let Ok(mark) = serde_json::from_value::<CorrectedMark>(json!(mark)) {
                corrections.insert((person, index), AttendanceCorrection { mark, reason });
            }
        }
    }
    let mut statement = conn.prepare_cached(
        "SELECT p.id, p.surname, p.name, p.patronymic, c.id, c.grade, c.letter
         FROM persons p JOIN classes c ON c.id = p.class_id
         WHERE p.kind = 'pupil' AND p.status != 'left' AND (?1 IS NULL OR c.id = ?1)
         ORDER BY c.grade, c.letter, p.surname, p.name",
    )?;
    let rows = statement.query_map([class_id.map(|c| c.to_string())], |r| {
        Ok(PupilRow {
            person_id: r.get(0)?,
            full_name: name_at(r, 1)?,
            class_id: r.get(4)?,
            class_name: format!("{}{}", r.get::<_, u8>(5)?, r.get::<_, String>(6)?),
            grade: r.get(5)?,
        })
    })?;
    let mut out = Vec::new();
    let mut key = (String::new(), 0);
    for row in rows {
        let row = row?;
        let Ok(id) = row.class_id.parse::<ClassId>() else {
            continue;
        };
        let class = ClassRef {
            id,
            grade: row.grade,
        };
        let own = passes.get(&row.person_id);
        key.0.clone_from(&row.person_id);
        let days = dates
            .iter()
            .enumerate()
            .map(|(index, date)| {
                key.1 = index;
                pupil_attendance(
                    rules,
                    tz,
                    class,
                    SchoolDate(*date),
                    own.map_or(&[][..], |days| days[index].as_slice()),
                    corrections.get(&key),
                )
            })
            .collect();
        out.push((row, days));
    }
    Ok(out)
}

/// Everyone inside now (by their last confirmed passage), ordered by kind, class and name.
pub(crate) fn people_inside(conn: &Connection) -> CoreResult<Vec<PersonInside>> {
    let mut statement = conn.prepare_cached(
        "SELECT p.id, p.kind, p.surname, p.name, p.patronymic, p.position, c.id, c.grade,
                c.letter, pr.at_us, pe.name,
                (SELECT v.visiting FROM visitor_passes v
                 WHERE v.person_id = p.id AND v.closed_at_us IS NULL
                 ORDER BY v.issued_at_us DESC LIMIT 1)
         FROM presence pr
         JOIN persons p ON p.id = pr.person_id
         LEFT JOIN classes c ON c.id = p.class_id
         LEFT JOIN peripherals pe ON pe.id = pr.gate_id
         WHERE pr.inside = 1
         ORDER BY p.kind, c.grade, c.letter, p.surname, p.name",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(PersonInside {
            person_id: r.get(0)?,
            kind: r.get(1)?,
            full_name: name_at(r, 2)?,
            position: r.get(5)?,
            class_id: r.get(6)?,
            class_name: class_label(r.get(7)?, r.get(8)?),
            since: from_micros(r.get(9)?),
            gate: r.get(10)?,
            visiting: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Someone inside the building now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInside {
    pub person_id: String,
    /// `pupil`, `staff`, `guardian`.
    pub kind: String,
    pub full_name: String,
    pub position: Option<String>,
    pub class_id: Option<String>,
    pub class_name: Option<String>,
    /// Their last entry.
    pub since: DateTime<Utc>,
    /// The gate they came in through, by name.
    pub gate: Option<String>,
    /// A visitor's purpose («к директору»).
    pub visiting: Option<String>,
}

/// One pupil as the attendance table lists them.
pub(crate) struct PupilRow {
    pub(crate) person_id: String,
    pub(crate) full_name: String,
    pub(crate) class_id: String,
    /// «5А».
    pub(crate) class_name: String,
    pub(crate) grade: u8,
}

fn parse_day(text: &str) -> CoreResult<NaiveDate> {
    super::parse_date(text).ok_or_else(|| {
        CoreError::invalid("date", Refusal::NotADate, format!("{text:?} is not a date"))
            .with("value", text)
    })
}

/// Two taps of one card at two different readers within this many seconds: one card in
/// two hands (a copied or lent card).
pub const TWO_READERS_WINDOW_S: i64 = 10;

impl Workstation {
    /// The day's exceptions for the director: passages without a card (with the guard's
    /// note), guard overrides, denials by the guard, and anomalies — one card at two
    /// readers within seconds, a second entry without an exit.
    pub(super) fn exceptions_report(
        &self,
        date: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let tz = self.school_tz()?;
        let date = match date {
            Some(text) => parse_day(text)?,
            None => tz.school_date(now).0,
        };
        day_exceptions(self.store.conn(), date)
    }
}

/// The exceptions of the school day `date` at the guard post, as
/// `Workstation::exceptions_report` answers them: `without_card`, `overrides`,
/// `guard_denials` (passages) and `anomalies` (`kind`: `two_readers`, `repeated_entry`,
/// `till_without_entry`; `first`, and `second` for two readers).
pub(crate) fn day_exceptions(conn: &Connection, date: NaiveDate) -> CoreResult<Value> {
    let mut statement = conn.prepare_cached(
        "SELECT ps.passage_id, ps.decided_at_us, ps.person_id, ps.card_key, ps.reader_id,
                pe.name, ps.direction, ps.allowed, ps.reason, ps.flags, ps.verified_by,
                ps.outcome, ps.note, p.surname, p.name, p.patronymic, c.grade, c.letter
         FROM passages ps
         LEFT JOIN persons p ON p.id = ps.person_id
         LEFT JOIN classes c ON c.id = p.class_id
         LEFT JOIN peripherals pe ON pe.id = ps.reader_id
         WHERE ps.school_date = ?1
         ORDER BY ps.decided_at_us",
    )?;
    struct Row {
        json: Value,
        at_us: i64,
        person: Option<String>,
        card: Option<String>,
        reader: Option<String>,
        flags: String,
        reason: String,
        verified_by: String,
        note: String,
    }
    let rows = statement.query_map([date.to_string()], |r| {
        let grade: Option<u8> = r.get(16)?;
        let letter: Option<String> = r.get(17)?;
        let full_name = name_at(r, 13)?;
        let at_us: i64 = r.get(1)?;
        Ok(Row {
            json: json!({
                "passage_id": r.get::<_, String>(0)?,
                "at": from_micros(at_us),
                "person_id": r.get::<_, Option<String>>(2)?,
                "full_name": full_name,
                "class_name": class_label(grade, letter),
                "card": r.get::<_, Option<String>>(3)?,
                "reader": r.get::<_, Option<String>>(5)?,
                "direction": r.get::<_, String>(6)?,
                "allowed": r.get::<_, bool>(7)?,
                "reason": r.get::<_, String>(8)?,
                "outcome": r.get::<_, String>(11)?,
                "note": r.get::<_, String>(12)?,
                // The rule a guard's override set aside.
                "overridden": r
                    .get::<_, String>(9)?
                    .split(',')
                    .find_map(|f| f.strip_prefix("overridden:"))
                    .map(str::to_owned),
            }),
            at_us,
            person: r.get(2)?,
            card: r.get(3)?,
            reader: r.get(4)?,
            flags: r.get(9)?,
            reason: r.get(8)?,
            verified_by: r.get(10)?,
            note: r.get(12)?,
        })
    })?;
    let rows: Vec<Row> = rows.collect::<Result<_, _>>()?;
    let without_card: Vec<&Value> = rows
        .iter()
        .filter(|r| r.card.is_none() && !r.note.is_empty())
        .map(|r| &r.json)
        .collect();
    let overrides: Vec<&Value> = rows
        .iter()
        .filter(|r| r.verified_by == "override")
        .map(|r| &r.json)
        .collect();
    let guard_denials: Vec<&Value> = rows
        .iter()
        .filter(|r| r.reason == "guard_denied")
        .map(|r| &r.json)
        .collect();
    let mut anomalies: Vec<Value> = Vec::new();
    let window_us = TWO_READERS_WINDOW_S * 1_000_000;
    for (i, a) in rows.iter().enumerate() {
        let Some(card) = &a.card else { continue };
        let twin = rows[i + 1..]
            .iter()
            .take_while(|b| b.at_us - a.at_us <= window_us)
            .find(|b| b.card.as_ref() == Some(card) && b.reader != a.reader);
        if let Some(b) = twin {
            anomalies.push(json!({
                "kind": "two_readers",
                "first": a.json,
                "second": b.json,
                "seconds": (b.at_us - a.at_us) / 1_000_000,
            }));
        }
    }
    for row in &rows {
        let passback =
            row.reason == "passback" || row.flags.split(',').any(|f| f == "passback_soft");
        if passback && row.person.is_some() {
            anomalies.push(json!({ "kind": "repeated_entry", "first": row.json }));
        }
    }
    // A card used at the canteen's till by a pupil who never came in today.
    anomalies.extend(super::canteen::till_without_entry(conn, date)?);
    Ok(json!({
        "date": date,
        "without_card": without_card,
        "overrides": overrides,
        "guard_denials": guard_denials,
        "anomalies": anomalies,
    }))
}
