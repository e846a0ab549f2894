//! The verdict for one card at one gate at one instant.
//!
//! Checks run in a fixed order and the first refusal found is the reason:
//!
//! 1. the card: unknown, lost, blocked, returned — never overridden;
//! 2. the holder: suspended, left, a visitor's pass expired (on entry) — never
//!    overridden;
//! 3. entries only: the holder's kind admitted at all (`not_permitted`), the day
//!    (`not_a_school_day`) and the hours (`outside_hours`) of the holder's window;
//! 4. anti-passback in the gate's zone (`passback`, strict mode, entries);
//! 5. exits only: a pupil whose class has a lesson on (`lessons_in_progress`).
//!
//! A guard's override lets through refusals 3–5 ([`Reason::is_overridable`]); the
//! decision is then allowed, flagged [`Flag::Override`], and names the refusal it set
//! aside in [`Decision::overridden`]. Soft findings never refuse; they are [`Flag`]s.

use super::policy::{AccessWindow, PassbackMode, WindowDays};
use super::{AccessRules, ClassRef, ZoneId};
use crate::domain::{CardState, PersonStatus, Role};
use crate::peripherals::Direction;
use crate::time::{SchoolDate, SchoolTz};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($(#[$tdoc:meta])* $name:ident { $($(#[$doc:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$tdoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$doc])* $variant,)+
        }

        impl $name {
            /// Every code, for tests and for the UI's catalogue check.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable snake_case code (as serde writes it).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }
    };
}

codes! {
    /// Why a card was let through or not: one stable code for the guard's screen, the
    /// journal and the reports.
    Reason {
        /// Let through (possibly with flags, or by a guard's override).
        Allowed = "allowed",
        /// No card with this number is known, or it is bound to nobody.
        UnknownCard = "unknown_card",
        /// The holder reported the card lost: whoever holds it now is not its holder.
        CardLost = "card_lost",
        /// The school blocked the card.
        CardBlocked = "card_blocked",
        /// The card was handed back and is bound to nobody.
        CardReturned = "card_returned",
        /// The holder is temporarily barred (a staff member on leave, …).
        PersonSuspended = "person_suspended",
        /// The holder has left the school.
        PersonLeft = "person_left",
        /// A visitor's pass is past its "valid until" (entry; an exit is let through).
        VisitorPassExpired = "visitor_pass_expired",
        /// This kind of holder is not let in by card (guardians, unless configured).
        NotPermitted = "not_permitted",
        /// Not a working day for the holder (weekend, holiday, vacation) and their window
        /// is for school days only.
        NotASchoolDay = "not_a_school_day",
        /// Outside the hours of the holder's window.
        OutsideHours = "outside_hours",
        /// Strict anti-passback: a second entry into the zone without an exit.
        Passback = "passback",
        /// A pupil who may not leave during lessons, while their class has a lesson.
        LessonsInProgress = "lessons_in_progress",
    }
}

codes! {
    /// A soft finding on a decision: never a refusal by itself; it goes to the journal
    /// and the director's anomalies and exceptions reports.
    Flag {
        /// A second pass the same way without one the other way (soft anti-passback, or a
        /// second exit in strict mode).
        PassbackSoft = "passback_soft",
        /// A guard let through what the rules refused (see [`Decision::overridden`]).
        Override = "override",
        /// A pupil entering for the first time today after the first lesson's start plus
        /// the grace minutes, and before the last lesson's end.
        Late = "late",
        /// A visitor leaving after their pass expired.
        VisitorOverstayed = "visitor_overstayed",
    }
}

impl Reason {
    /// Whether a guard's override may let the card through anyway: the rules of time,
    /// place and kind; never a bad card or a barred person.
    pub fn is_overridable(self) -> bool {
        matches!(
            self,
            Reason::NotPermitted
                | Reason::NotASchoolDay
                | Reason::OutsideHours
                | Reason::Passback
                | Reason::LessonsInProgress
        )
    }
}

/// The verdict. `allowed` is true exactly when `reason` is [`Reason::Allowed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// Soft findings, each at most once, in the order found.
    pub flags: Vec<Flag>,
    /// The refusal a guard's override set aside; `Some` exactly when `flags` holds
    /// [`Flag::Override`].
    #[serde(default)]
    pub overridden: Option<Reason>,
}

impl Decision {
    fn deny(reason: Reason, flags: Vec<Flag>) -> Decision {
        Decision {
            allowed: false,
            reason,
            flags,
            overridden: None,
        }
    }
}

/// Who holds the card, as the rules need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    Pupil {
        status: PersonStatus,
        /// `None`: a pupil not yet in a class; the plain pupils' window, no lessons.
        class: Option<ClassRef>,
    },
    Staff {
        status: PersonStatus,
        roles: Vec<Role>,
    },
    Guardian {
        status: PersonStatus,
    },
    /// A visitor on a temporary pass (a visitor card).
    Visitor {
        valid_until: DateTime<Utc>,
    },
}

/// The holder's last confirmed pass through a gate of the zone at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPass {
    pub direction: Direction,
    pub at: DateTime<Utc>,
    /// A pass in another zone says nothing about this one and is ignored.
    pub zone: ZoneId,
}

/// One card presented at one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassRequest {
    /// The card's state; `None`: no card with this number is known.
    pub card: Option<CardState>,
    /// Whom the card is bound to; `None` for an unbound card.
    pub holder: Option<Holder>,
    pub direction: Direction,
    /// The zone the gate leads into (entry) or out of (exit).
    pub zone: ZoneId,
    pub at: DateTime<Utc>,
    /// The holder's last confirmed pass in `zone` (another zone's is ignored).
    pub last_pass: Option<LastPass>,
    /// The guard pressed "let through" for this card.
    #[serde(default)]
    pub guard_override: bool,
}

/// The verdict for `request` under `rules`, with local dates and times in `tz`.
pub fn decide(rules: &AccessRules, tz: SchoolTz, request: &PassRequest) -> Decision {
    let mut flags = Vec::new();
    let holder = match (request.card, &request.holder) {
        (None, _) => return Decision::deny(Reason::UnknownCard, flags),
        (Some(CardState::Lost), _) => return Decision::deny(Reason::CardLost, flags),
        (Some(CardState::Blocked), _) => return Decision::deny(Reason::CardBlocked, flags),
        (Some(CardState::Returned), _) => return Decision::deny(Reason::CardReturned, flags),
        (Some(CardState::Active), None) => return Decision::deny(Reason::UnknownCard, flags),
        (Some(CardState::Active), Some(holder)) => holder,
    };
    let status = match holder {
        Holder::Pupil { status, .. }
        | Holder::Staff { status, .. }
        | Holder::Guardian { status } => Some(*status),
        Holder::Visitor { .. } => None,
    };
    match status {
        Some(PersonStatus::Suspended) => return Decision::deny(Reason::PersonSuspended, flags),
        Some(PersonStatus::Left) => return Decision::deny(Reason::PersonLeft, flags),
        Some(PersonStatus::Active) | None => {}
    }
    if let Holder::Visitor { valid_until } = holder {
        if request.at > *valid_until {
            match request.direction {
                Direction::Entry => return Decision::deny(Reason::VisitorPassExpired, flags),
                Direction::Exit => flags.push(Flag::VisitorOverstayed),
            }
        }
    }

    let local = request.at.with_timezone(&tz.tz()).naive_local();
    let date = SchoolDate(local.date());
    let mut refusal = None;
    if request.direction == Direction::Entry {
        refusal = entry_refusal(rules, holder, date, local);
    }
    if passback_repeated(rules, tz, request) {
        let mode = rules.policy.anti_passback.mode_of(&request.zone);
        match (mode, request.direction) {
            (PassbackMode::Strict, Direction::Entry) => {
                refusal = refusal.or(Some(Reason::Passback));
            }
            (PassbackMode::Strict, Direction::Exit) | (PassbackMode::Soft, _) => {
                flags.push(Flag::PassbackSoft);
            }
            (PassbackMode::Off, _) => {}
        }
    }
    if let (
        Direction::Exit,
        Holder::Pupil {
            class: Some(class), ..
        },
    ) = (request.direction, holder)
    {
        if kept_in_lessons(rules, *class, local) {
            refusal = refusal.or(Some(Reason::LessonsInProgress));
        }
    }
    if let (
        Direction::Entry,
        Holder::Pupil {
            class: Some(class), ..
        },
    ) = (request.direction, holder)
    {
        let here_today = request
            .last_pass
            .as_ref()
            .is_some_and(|p| p.zone == request.zone && tz.school_date(p.at) == date);
        if !here_today && is_late(rules, *class, local) {
            flags.push(Flag::Late);
        }
    }

    match refusal {
        None => Decision {
            allowed: true,
            reason: Reason::Allowed,
            flags,
            overridden: None,
        },
        Some(reason) if request.guard_override && reason.is_overridable() => {
            flags.push(Flag::Override);
            Decision {
                allowed: true,
                reason: Reason::Allowed,
                flags,
                overridden: Some(reason),
            }
        }
        Some(reason) => Decision::deny(reason, flags),
    }
}

/// Why an entry at local `at` is refused by the holder's kind, day or hours, if it is.
fn entry_refusal(
    rules: &AccessRules,
    holder: &Holder,
    date: SchoolDate,
    at: NaiveDateTime,
) -> Option<Reason> {
    let policy = &rules.policy;
    let calendar = &rules.calendar;
    let (windows, working_day) = match holder {
        Holder::Pupil { class, .. } => {
            let working = match class {
                Some(class) => calendar.pupil_day(date, class.grade).is_working(),
                // A pupil not yet in a class keeps the staff's days (the building's).
                None => calendar.staff_day(date).is_working(),
            };
            (vec![policy.pupil_window(*class)], working)
        }
        Holder::Staff { roles, .. } => (
            policy.staff_windows(roles),
            calendar.staff_day(date).is_working(),
        ),
        Holder::Guardian { .. } => match policy.guardians {
            Some(window) => (vec![window], calendar.staff_day(date).is_working()),
            None => return Some(Reason::NotPermitted),
        },
        // A visitor's pass is issued by the guard for the visit; its expiry is the rule.
        Holder::Visitor { .. } => return None,
    };
    let on_day = |w: &AccessWindow| working_day || w.days == WindowDays::EveryDay;
    if !windows.iter().any(on_day) {
        return Some(Reason::NotASchoolDay);
    }
    if !windows
        .iter()
        .filter(|w| on_day(w))
        .any(|w| w.covers(at.time()))
    {
        return Some(Reason::OutsideHours);
    }
    None
}

/// Whether the request repeats the holder's last pass in its zone (same direction) and
/// that pass still counts.
fn passback_repeated(rules: &AccessRules, tz: SchoolTz, request: &PassRequest) -> bool {
    let Some(last) = &request.last_pass else {
        return false;
    };
    let rule = &rules.policy.anti_passback;
    if last.zone != request.zone || last.direction != request.direction {
        return false;
    }
    if rule.reset_at_midnight && tz.school_date(last.at) != tz.school_date(request.at) {
        return false;
    }
    if let Some(minutes) = rule.forgive_after_minutes {
        if request.at.signed_duration_since(last.at) >= TimeDelta::minutes(i64::from(minutes)) {
            return false;
        }
    }
    true
}

/// Whether a pupil of `class` may not leave at local `at` under the no-leaving rule.
fn kept_in_lessons(rules: &AccessRules, class: ClassRef, at: NaiveDateTime) -> bool {
    let Some(rule) = rules.policy.no_leaving_for(class.grade) else {
        return false;
    };
    let (calendar, bells) = (&rules.calendar, &rules.bells);
    if rule.breaks_too {
        bells.within_lesson_hours(calendar, class, at)
    } else {
        bells.lesson_in_progress(calendar, class, at).is_some()
    }
}

/// Whether an entry at local `at` is after the first lesson's start plus the grace and
/// before the last lesson's end.
fn is_late(rules: &AccessRules, class: ClassRef, at: NaiveDateTime) -> bool {
    let lessons = rules
        .bells
        .lessons(&rules.calendar, class, SchoolDate(at.date()));
    let (Some(first), Some(last)) = (lessons.first(), lessons.last()) else {
        return false;
    };
    let grace = TimeDelta::minutes(i64::from(rules.policy.attendance.late_grace_minutes));
    let late_from = at.date().and_time(first.start).checked_add_signed(grace);
    late_from.is_some_and(|late_from| at > late_from) && at.time() < last.end
}
