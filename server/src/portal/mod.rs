//! The parent portal (DESIGN.md §1, «Портал»): server-rendered pages a parent opens on a
//! phone — their children, each child's day, balance and top-up, the canteen's stop-list,
//! a daily limit, pre-orders and notification settings.
//!
//! **Every read and write is scoped to the signed-in parent's children.** A parent's
//! children are the pupils linked (`guardianship`) to a guardian of some school's roster
//! whose e-mail is the parent's ([`children_of`]); every child route starts with
//! [`own_child`], which answers `None` — a 404 page, never data — for anyone else's.
//!
//! `auth.rs` — sign-in (password, one-time code by e-mail), sessions, CSRF, rate limits;
//! `pages.rs` — the routes and their askama templates (`server/templates/portal/`).

pub mod auth;
pub mod pages;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::PgPool;
use uuid::Uuid;

/// A parent's child as the portal lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub school_id: Uuid,
    pub person_id: String,
    /// «Фамилия Имя».
    pub name: String,
    /// «5А», or empty when the pupil has no class.
    pub class: String,
}

const CHILD_SELECT: &str = "SELECT DISTINCT p.school_id, p.person_id, p.surname || ' ' || p.name,
       coalesce(c.grade::text || c.letter, ''), p.surname, p.name
  FROM parents pa
  JOIN school_persons g ON g.email = pa.email AND g.kind = 'guardian'
  JOIN guardianship gs ON gs.school_id = g.school_id AND gs.guardian_id = g.person_id
  JOIN school_persons p ON p.school_id = gs.school_id AND p.person_id = gs.pupil_id AND p.kind = 'pupil'
  LEFT JOIN school_classes c ON c.school_id = p.school_id AND c.class_id = p.class_id
 WHERE pa.id = $1";

type ChildRow = (Uuid, String, String, String, String, String);

fn child_of_row((school_id, person_id, name, class, _, _): ChildRow) -> Child {
    Child {
        school_id,
        person_id,
        name,
        class,
    }
}

/// The pupils of every school whose roster links them to a guardian with the parent's
/// e-mail, by surname and name.
pub async fn children_of(pool: &PgPool, parent_id: Uuid) -> Result<Vec<Child>, sqlx_core::Error> {
    let rows: Vec<ChildRow> = query_as(&format!("{CHILD_SELECT} ORDER BY 5, 6, 2"))
        .bind(parent_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(child_of_row).collect())
}

/// The child `(school_id, person_id)` if it is the parent's; `None` otherwise (the
/// caller answers 404 and reads or writes nothing).
pub async fn own_child(
    pool: &PgPool,
    parent_id: Uuid,
    school_id: Uuid,
    person_id: &str,
) -> Result<Option<Child>, sqlx_core::Error> {
    let row: Option<ChildRow> = query_as(&format!(
        "{CHILD_SELECT} AND p.school_id = $2 AND p.person_id = $3"
    ))
    .bind(parent_id)
    .bind(school_id)
    .bind(person_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(child_of_row))
}

/// The lower-cased e-mails of a pupil's guardians on the school's roster (who to notify).
pub async fn guardians_emails_of(
    pool: &PgPool,
    school_id: Uuid,
    pupil_id: &str,
) -> Result<Vec<String>, sqlx_core::Error> {
    query_scalar(
        "SELECT DISTINCT g.email FROM guardianship gs
           JOIN school_persons g ON g.school_id = gs.school_id AND g.person_id = gs.guardian_id
          WHERE gs.school_id = $1 AND gs.pupil_id = $2 AND g.email IS NOT NULL AND g.email <> ''
          ORDER BY 1",
    )
    .bind(school_id)
    .bind(pupil_id)
    .fetch_all(pool)
    .await
}

/// A pupil's balance in kopecks: the sum of the ledger (the authority for money).
pub async fn balance_of(
    pool: &PgPool,
    school_id: Uuid,
    person_id: &str,
) -> Result<i64, sqlx_core::Error> {
    query_scalar(
        "SELECT coalesce(sum(amount), 0)::bigint FROM ledger WHERE school_id = $1 AND person_id = $2",
    )
    .bind(school_id)
    .bind(person_id)
    .fetch_one(pool)
    .await
}

/// The school's time zone (Moscow when the name is unknown).
pub async fn school_tz(pool: &PgPool, school_id: Uuid) -> Result<Tz, sqlx_core::Error> {
    let name: Option<String> = query_scalar("SELECT time_zone FROM schools WHERE id = $1")
        .bind(school_id)
        .fetch_optional(pool)
        .await?;
    Ok(name
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::Europe::Moscow))
}

/// The instants a school day spans in the school's zone: `[start, end)`.
pub fn day_span(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |date: NaiveDate| {
        date.and_time(NaiveTime::MIN)
            .and_local_timezone(tz)
            .earliest()
            .map(|local| local.with_timezone(&Utc))
            .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
    };
    (at(date), at(date.succ_opt().unwrap_or(date)))
}

/// Kopecks as Russian money text: «45 ₽», «45,50 ₽», «−1 200 ₽».
pub fn rub(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "−" } else { "" };
    let abs = kopecks.unsigned_abs();
    let (roubles, kop) = (abs / 100, abs % 100);
    let digits = roubles.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    if kop == 0 {
        format!("{sign}{grouped} ₽")
    } else {
        format!("{sign}{grouped},{kop:02} ₽")
    }
}

/// Roubles as a parent types them («300», «300,50», «300.5») → kopecks.
pub fn parse_roubles(text: &str) -> Option<i64> {
    let text = text.trim().replace([' ', '\u{a0}'], "").replace(',', ".");
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text.as_str(), ""),
    };
    if whole.is_empty() || whole.len() > 9 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kopecks = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse::<i64>().ok()?,
    };
    Some(whole.parse::<i64>().ok()? * 100 + kopecks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_and_prints_the_russian_way() {
        assert_eq!(rub(4_500), "45 ₽");
        assert_eq!(rub(4_550), "45,50 ₽");
        assert_eq!(rub(-120_000), "−1\u{a0}200 ₽");
        assert_eq!(parse_roubles("300"), Some(30_000));
        assert_eq!(parse_roubles("300,5"), Some(30_050));
        assert_eq!(parse_roubles(" 1 000.05 "), Some(100_005));
        for bad in ["", "-5", "1,234", "abc", "1e3", ".5"] {
            assert_eq!(parse_roubles(bad), None, "{bad}");
        }
    }
}
