//! What a school configures about its doors: when each kind of cardholder may enter,
//! anti-passback per zone, who may not leave during lessons, and the grace minutes of
//! the attendance marks. Plain serde data; [`AccessPolicy::default`] is a typical Russian
//! school's choice.

use super::{ClassRef, GradeBand, ZoneId};
use crate::domain::{ClassId, Role};
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

/// On which days an [`AccessWindow`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowDays {
    /// The holder's working days only: for a pupil, days with lessons for their grade;
    /// for staff and guardians, the staff's working days. Other days: `not_a_school_day`.
    SchoolDays,
    /// Every day of the year, holidays and vacations included (a guard's shifts, clubs
    /// open in the holidays).
    EveryDay,
}

/// Local hours during which a card opens the entrance, on some days.
///
/// `from` is inclusive and `to` exclusive. `from > to` wraps past midnight (a night
/// guard's 20:00–08:00, checked against the date of the instant); `from == to` is the
/// whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessWindow {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub days: WindowDays,
}

impl AccessWindow {
    /// Whether local time `at` is within the hours (days aside).
    pub fn covers(self, at: NaiveTime) -> bool {
        match self.from.cmp(&self.to) {
            std::cmp::Ordering::Less => self.from <= at && at < self.to,
            std::cmp::Ordering::Greater => self.from <= at || at < self.to,
            std::cmp::Ordering::Equal => true,
        }
    }
}

/// The window of a band of grades, in place of [`AccessPolicy::pupils`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeWindow {
    pub grades: GradeBand,
    pub window: AccessWindow,
}

/// The window of one class, in place of its grade's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassWindow {
    pub class_id: ClassId,
    pub window: AccessWindow,
}

/// The window of a staff role, in place of [`AccessPolicy::staff`] for that role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleWindow {
    pub role: Role,
    pub window: AccessWindow,
}

/// What a second pass the same way through a zone's gates, without one the other way in
/// between, does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassbackMode {
    /// A second entry is refused (`passback`); a second exit is let through and flagged
    /// (`passback_soft`), because the card rules never hold anyone inside for it.
    Strict,
    /// Let through and flagged (`passback_soft`) for the director's anomalies list.
    Soft,
    /// Not checked.
    Off,
}

/// The passback mode of one zone, in place of [`AntiPassback::mode`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonePassback {
    pub zone: ZoneId,
    pub mode: PassbackMode,
}

/// Anti-passback (антипассбэк): one card, one person inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AntiPassback {
    /// The mode of zones not listed in `zones`.
    pub mode: PassbackMode,
    #[serde(default)]
    pub zones: Vec<ZonePassback>,
    /// A pass on an earlier school date never counts (the nightly reset): whoever slipped
    /// out past the turnstile yesterday enters freely today.
    pub reset_at_midnight: bool,
    /// A pass this many minutes old or older no longer counts; `None`: no such limit.
    #[serde(default)]
    pub forgive_after_minutes: Option<u32>,
}

impl AntiPassback {
    pub fn mode_of(&self, zone: &ZoneId) -> PassbackMode {
        self.zones
            .iter()
            .find(|z| &z.zone == zone)
            .map_or(self.mode, |z| z.mode)
    }
}

/// Pupils of `grades` may not leave while their class has lessons (a guard may let one
/// out: an override, flagged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoLeaving {
    pub grades: GradeBand,
    /// Also during the breaks between the first lesson and the last.
    pub breaks_too: bool,
}

/// Grace minutes of the attendance marks (also the `late` flag of a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRules {
    /// An entry this many minutes after the first lesson's start is not yet late.
    pub late_grace_minutes: u32,
    /// A final exit this many minutes before the last lesson's end is not yet leaving
    /// early.
    pub early_leave_grace_minutes: u32,
}

/// A minute's grace for the queue at the turnstile at the bell; 0–5 is usual.
pub const LATE_GRACE_MINUTES_DEFAULT: u32 = 1;
/// Teachers let a class go a few minutes before the bell.
pub const EARLY_LEAVE_GRACE_MINUTES_DEFAULT: u32 = 5;

impl Default for AttendanceRules {
    fn default() -> AttendanceRules {
        AttendanceRules {
            late_grace_minutes: LATE_GRACE_MINUTES_DEFAULT,
            early_leave_grace_minutes: EARLY_LEAVE_GRACE_MINUTES_DEFAULT,
        }
    }
}

/// The school's door rules.
///
/// Windows apply to entries only: nobody is held inside for the hour or the day. Exits
/// can be refused only by the card's or person's status and by [`NoLeaving`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPolicy {
    /// Pupils whose class and grade have no window of their own.
    pub pupils: AccessWindow,
    /// By grade band; the first band holding the grade wins.
    #[serde(default)]
    pub grade_windows: Vec<GradeWindow>,
    /// By class; wins over the grade's.
    #[serde(default)]
    pub class_windows: Vec<ClassWindow>,
    /// Staff, for each of their roles without a window of its own (and staff with no
    /// role). A staff member may enter when any of their roles' windows allows.
    pub staff: AccessWindow,
    #[serde(default)]
    pub role_windows: Vec<RoleWindow>,
    /// Guardians' cards; `None`: a guardian's card does not open the door
    /// (`not_permitted`), the guard lets them in.
    #[serde(default)]
    pub guardians: Option<AccessWindow>,
    pub anti_passback: AntiPassback,
    /// Who may not leave during lessons; the first rule holding the grade applies.
    #[serde(default)]
    pub no_leaving: Vec<NoLeaving>,
    #[serde(default)]
    pub attendance: AttendanceRules,
}

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

/// Pupils come in from 07:30 (the building opens half an hour before it fills) until
/// 18:00 (after-school clubs end), on their school days.
pub const PUPILS_FROM: NaiveTime = hm(7, 30);
pub const PUPILS_TO: NaiveTime = hm(18, 0);
/// Staff from 06:30 (the cleaners and the kitchen) to 21:00, on the staff's working days.
pub const STAFF_FROM: NaiveTime = hm(6, 30);
pub const STAFF_TO: NaiveTime = hm(21, 0);
/// The director and the admin may come in on any day, 07:00–22:00.
pub const MANAGEMENT_FROM: NaiveTime = hm(7, 0);
pub const MANAGEMENT_TO: NaiveTime = hm(22, 0);
/// Guardians collect and bring children 07:30–19:00 on working days.
pub const GUARDIANS_FROM: NaiveTime = hm(7, 30);
pub const GUARDIANS_TO: NaiveTime = hm(19, 0);

impl Default for AccessPolicy {
    /// Pupils 07:30–18:00 on their school days; staff 06:30–21:00 on working days, the
    /// guard round the clock every day, the director and the admin 07:00–22:00 every day;
    /// guardians 07:30–19:00 on working days; strict anti-passback reset at midnight;
    /// primary pupils (1–4) may not leave during a lesson; 1 minute's grace for late,
    /// 5 for leaving early.
    fn default() -> AccessPolicy {
        let management = AccessWindow {
            from: MANAGEMENT_FROM,
            to: MANAGEMENT_TO,
            days: WindowDays::EveryDay,
        };
        AccessPolicy {
            pupils: AccessWindow {
                from: PUPILS_FROM,
                to: PUPILS_TO,
                days: WindowDays::SchoolDays,
            },
            grade_windows: Vec::new(),
            class_windows: Vec::new(),
            staff: AccessWindow {
                from: STAFF_FROM,
                to: STAFF_TO,
                days: WindowDays::SchoolDays,
            },
            role_windows: vec![
                RoleWindow {
                    role: Role::Guard,
                    window: AccessWindow {
                        from: NaiveTime::MIN,
                        to: NaiveTime::MIN,
                        days: WindowDays::EveryDay,
                    },
                },
                RoleWindow {
                    role: Role::Director,
                    window: management,
                },
                RoleWindow {
                    role: Role::Admin,
                    window: management,
                },
            ],
            guardians: Some(AccessWindow {
                from: GUARDIANS_FROM,
                to: GUARDIANS_TO,
                days: WindowDays::SchoolDays,
            }),
            anti_passback: AntiPassback {
                mode: PassbackMode::Strict,
                zones: Vec::new(),
                reset_at_midnight: true,
                forgive_after_minutes: None,
            },
            no_leaving: vec![NoLeaving {
                grades: GradeBand::PRIMARY,
                breaks_too: false,
            }],
            attendance: AttendanceRules::default(),
        }
    }
}

impl AccessPolicy {
    /// The window a pupil of `class` enters in: the class's, else the grade's, else
    /// [`AccessPolicy::pupils`].
    pub fn pupil_window(&self, class: Option<ClassRef>) -> AccessWindow {
        let Some(class) = class else {
            return self.pupils;
        };
        self.class_windows
            .iter()
            .find(|w| w.class_id == class.id)
            .map(|w| w.window)
            .or_else(|| {
                self.grade_windows
                    .iter()
                    .find(|w| w.grades.contains(class.grade))
                    .map(|w| w.window)
            })
            .unwrap_or(self.pupils)
    }

    /// The windows a staff member with `roles` enters in: each role's own, or
    /// [`AccessPolicy::staff`] for a role without one (and for no role at all).
    pub fn staff_windows(&self, roles: &[Role]) -> Vec<AccessWindow> {
        let mut windows: Vec<AccessWindow> = roles
            .iter()
            .map(|role| {
                self.role_windows
                    .iter()
                    .find(|w| w.role == *role)
                    .map_or(self.staff, |w| w.window)
            })
            .collect();
        if windows.is_empty() {
            windows.push(self.staff);
        }
        windows
    }

    /// The no-leaving rule of `grade`, if any.
    pub fn no_leaving_for(&self, grade: u8) -> Option<NoLeaving> {
        self.no_leaving
            .iter()
            .find(|r| r.grades.contains(grade))
            .copied()
    }
}
