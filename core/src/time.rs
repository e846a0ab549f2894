//! Instants are UTC; "today" and the school day are computed in the school's IANA time zone.
//! Nothing here reads the clock: every function takes the instant.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The zone assumed before a school has configured its own: most Russian schools keep
/// Moscow time.
pub const DEFAULT_TZ: &str = "Europe/Moscow";

/// The first day (1 September) of the school year that `at` falls in, in `tz`.
pub fn school_year_start(tz: SchoolTz, at: DateTime<Utc>) -> NaiveDate {
    use chrono::Datelike;
    let today = tz.school_date(at).0;
    let year = if today.month() >= SCHOOL_YEAR_FIRST_MONTH {
        today.year()
    } else {
        today.year() - 1
    };
    NaiveDate::from_ymd_opt(year, SCHOOL_YEAR_FIRST_MONTH, 1).expect("1 September exists")
}

/// The school year starts on 1 September.
const SCHOOL_YEAR_FIRST_MONTH: u32 = 9;

/// The school's time zone, validated against the IANA database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchoolTz(Tz);

impl SchoolTz {
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The school day an instant falls on, in the school's time zone.
    pub fn school_date(self, at: DateTime<Utc>) -> SchoolDate {
        SchoolDate(at.with_timezone(&self.0).date_naive())
    }

    /// Microseconds since the epoch at local midnight starting `date` (the earliest
    /// instant of that school day), for range queries over the journal.
    pub fn day_start(self, date: SchoolDate) -> DateTime<Utc> {
        let midnight = date.0.and_hms_opt(0, 0, 0).expect("midnight exists");
        self.0
            .from_local_datetime(&midnight)
            .earliest()
            // A zone whose midnight is skipped by a DST jump starts the day an hour later.
            .unwrap_or_else(|| self.0.from_utc_datetime(&midnight))
            .with_timezone(&Utc)
    }
}

impl FromStr for SchoolTz {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<Tz>()
            .map(SchoolTz)
            .map_err(|_| format!("unknown IANA time zone {s:?}"))
    }
}

impl fmt::Display for SchoolTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// A calendar date of the school day in the school's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SchoolDate(pub NaiveDate);

/// Microseconds since the Unix epoch: how instants are stored.
pub fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_day_follows_the_zone_not_utc() {
        let moscow: SchoolTz = "Europe/Moscow".parse().unwrap();
        let vladivostok: SchoolTz = "Asia/Vladivostok".parse().unwrap();
        // 22:30 UTC on 31 Aug is already 1 Sep in Moscow (UTC+3) and in Vladivostok (UTC+10).
        let at = Utc.with_ymd_and_hms(2026, 8, 31, 22, 30, 0).unwrap();
        let sept1 = SchoolDate(NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
        assert_eq!(moscow.school_date(at), sept1);
        assert_eq!(vladivostok.school_date(at), sept1);
        let at = Utc.with_ymd_and_hms(2026, 8, 31, 20, 30, 0).unwrap();
        assert_eq!(
            moscow.school_date(at).0,
            NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()
        );
        assert_eq!(vladivostok.school_date(at), sept1);
        assert_eq!(
            moscow.day_start(sept1),
            Utc.with_ymd_and_hms(2026, 8, 31, 21, 0, 0).unwrap()
        );
    }

    #[test]
    fn rejects_unknown_zones() {
        assert!("Europe/Atlantis".parse::<SchoolTz>().is_err());
        assert!("".parse::<SchoolTz>().is_err());
    }
}
