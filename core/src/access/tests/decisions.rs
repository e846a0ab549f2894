//! `decide`: every reason and flag, anti-passback modes, leaving during lessons, the
//! school's time zone.

use super::*;
use crate::peripherals::Direction::{Entry, Exit};
use std::collections::BTreeSet;

/// One decision: a name, a change to the default rules of 2025/26, the request, and the
/// expected reason, flags and refusal set aside by an override.
struct Case {
    name: &'static str,
    tweak: fn(&mut AccessRules),
    request: PassRequest,
    reason: Reason,
    flags: &'static [Flag],
    overridden: Option<Reason>,
}

fn case(name: &'static str, request: PassRequest, reason: Reason, flags: &'static [Flag]) -> Case {
    Case {
        name,
        tweak: |_| {},
        request,
        reason,
        flags,
        overridden: None,
    }
}

impl Case {
    fn with(self, tweak: fn(&mut AccessRules)) -> Case {
        Case { tweak, ..self }
    }
    fn setting_aside(self, refusal: Reason) -> Case {
        Case {
            overridden: Some(refusal),
            ..self
        }
    }
}

/// Decides every case in `tz`; fails listing every case that went otherwise. Returns the
/// reason and flag codes met (reasons set aside by an override included).
fn run(cases: Vec<Case>, tz: SchoolTz) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let mut failures = Vec::new();
    let (mut reasons, mut flags) = (BTreeSet::new(), BTreeSet::new());
    for c in cases {
        let mut rules = rules_2025();
        (c.tweak)(&mut rules);
        let got = decide(&rules, tz, &c.request);
        let expected = Decision {
            allowed: c.reason == Reason::Allowed,
            reason: c.reason,
            flags: c.flags.to_vec(),
            overridden: c.overridden,
        };
        if got != expected {
            failures.push(format!("{}: got {got:?}, expected {expected:?}", c.name));
        }
        reasons.insert(got.reason.as_str());
        reasons.extend(got.overridden.map(Reason::as_str));
        flags.extend(got.flags.iter().map(|f| f.as_str()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    (reasons, flags)
}

const TUE: (i32, u32, u32) = (2025, 9, 2);

fn tue(h: u32, m: u32) -> DateTime<Utc> {
    msk(date(TUE.0, TUE.1, TUE.2), h, m)
}

#[test]
fn decisions_reach_every_reason_and_flag() {
    use CardState::{Blocked, Lost, Returned};
    use Flag::*;
    use Reason::*;
    let sun = |h, m| msk(date(2025, 9, 7), h, m);
    let vacation = msk(date(2025, 10, 27), 10, 0);
    let holiday = |h, m| msk(date(2025, 11, 4), h, m);
    let visitor = |until| Holder::Visitor { valid_until: until };
    let guardian = || Holder::Guardian {
        status: PersonStatus::Active,
    };
    let suspended = Holder::Staff {
        status: PersonStatus::Suspended,
        roles: vec![Role::Cashier],
    };
    let left = Holder::Pupil {
        status: PersonStatus::Left,
        class: None,
    };
    let (cashier, guard, director) = (
        staff(&[Role::Cashier]),
        staff(&[Role::Guard]),
        staff(&[Role::Director]),
    );
    fn no_guardians(r: &mut AccessRules) {
        r.policy.guardians = None;
    }
    fn seniors_till_20(r: &mut AccessRules) {
        let window = AccessWindow {
            from: hm(7, 0),
            to: hm(20, 0),
            days: WindowDays::SchoolDays,
        };
        r.policy.grade_windows.push(GradeWindow {
            grades: GradeBand::new(9, 11),
            window,
        });
    }
    fn class_10_from_8(r: &mut AccessRules) {
        let window = AccessWindow {
            from: hm(8, 0),
            to: hm(17, 0),
            days: WindowDays::SchoolDays,
        };
        r.policy.class_windows.push(ClassWindow {
            class_id: class(10, 10).id,
            window,
        });
    }
    fn night_cashier(r: &mut AccessRules) {
        let window = AccessWindow {
            from: hm(20, 0),
            to: hm(8, 0),
            days: WindowDays::EveryDay,
        };
        r.policy.role_windows.push(RoleWindow {
            role: Role::Cashier,
            window,
        });
    }
    #[rustfmt::skip]
    let cases = vec![
        case("pupil before lessons", request(pupil(5), Entry, tue(8, 0)), Allowed, &[]),
        case("unknown card", request(pupil(5), Entry, tue(8, 0)).card(None).unbound(), UnknownCard, &[]),
        case("active card bound to nobody", request(pupil(5), Entry, tue(8, 0)).unbound(), UnknownCard, &[]),
        case("lost card", request(pupil(5), Entry, tue(8, 0)).card(Some(Lost)), CardLost, &[]),
        case("lost card: no override", request(pupil(5), Entry, tue(8, 0)).card(Some(Lost)).by_guard(), CardLost, &[]),
        case("blocked card, even on the way out", request(pupil(5), Exit, tue(15, 0)).card(Some(Blocked)), CardBlocked, &[]),
        case("returned card", request(pupil(5), Entry, tue(8, 0)).card(Some(Returned)).unbound(), CardReturned, &[]),
        case("suspended staff", request(suspended, Entry, tue(8, 0)), PersonSuspended, &[]),
        case("a pupil who left: no override", request(left, Entry, tue(8, 0)).by_guard(), PersonLeft, &[]),
        case("visitor within the pass", request(visitor(tue(12, 0)), Entry, tue(10, 0)), Allowed, &[]),
        case("visitor late on a Sunday", request(visitor(sun(23, 0)), Entry, sun(22, 0)), Allowed, &[]),
        case("visitor after the pass", request(visitor(tue(12, 0)), Entry, tue(13, 0)), VisitorPassExpired, &[]),
        case("visitor leaving after the pass", request(visitor(tue(12, 0)), Exit, tue(13, 0)), Allowed, &[VisitorOverstayed]),
        case("guardian on a school day", request(guardian(), Entry, tue(8, 0)), Allowed, &[]),
        case("guardian cards not admitted", request(guardian(), Entry, tue(8, 0)), NotPermitted, &[]).with(no_guardians),
        case("a guardian inside may leave", request(guardian(), Exit, tue(8, 0)), Allowed, &[]).with(no_guardians),
        case("pupil on Sunday", request(pupil(5), Entry, sun(10, 0)), NotASchoolDay, &[]),
        case("pupil on a holiday", request(pupil(5), Entry, holiday(10, 0)), NotASchoolDay, &[]),
        case("pupil on vacation", request(pupil(5), Entry, vacation), NotASchoolDay, &[]),
        case("pupil on vacation, clubs open", request(pupil(5), Entry, vacation), Allowed, &[])
            .with(|r| r.policy.pupils.days = WindowDays::EveryDay),
        case("guard lets a pupil in on Sunday", request(pupil(5), Entry, sun(10, 0)).by_guard(), Allowed, &[Override])
            .setting_aside(NotASchoolDay),
        case("pupil leaving on Sunday", request(pupil(5), Exit, sun(10, 0)), Allowed, &[]),
        case("pupil too early", request(pupil(5), Entry, tue(7, 29)), OutsideHours, &[]),
        case("pupil at opening", request(pupil(5), Entry, tue(7, 30)), Allowed, &[]),
        case("pupil at closing", request(pupil(5), Entry, tue(18, 0)), OutsideHours, &[]),
        case("pupil leaving late in the evening", request(pupil(5), Exit, tue(20, 0)), Allowed, &[]),
        case("seniors' own window", request(pupil(10), Entry, tue(19, 0)), Allowed, &[]).with(seniors_till_20),
        case("a class's window wins", request(pupil(10), Entry, tue(7, 45)), OutsideHours, &[]).with(class_10_from_8),
        case("cashier on a working day", request(cashier.clone(), Entry, tue(6, 30)), Allowed, &[]),
        case("cashier at dawn", request(cashier.clone(), Entry, tue(5, 0)), OutsideHours, &[]),
        case("cashier on Sunday", request(cashier.clone(), Entry, sun(10, 0)), NotASchoolDay, &[]),
        case("a window past midnight", request(cashier.clone(), Entry, sun(2, 0)), Allowed, &[]).with(night_cashier),
        case("staff in the pupils' vacation", request(staff(&[Role::Librarian]), Entry, vacation), Allowed, &[]),
        case("staff with no role", request(staff(&[]), Entry, tue(8, 0)), Allowed, &[]),
        case("guard at night on a holiday", request(guard, Entry, holiday(3, 0)), Allowed, &[]),
        case("guard and cashier at dawn", request(staff(&[Role::Cashier, Role::Guard]), Entry, tue(5, 0)), Allowed, &[]),
        case("director on Sunday", request(director.clone(), Entry, sun(10, 0)), Allowed, &[]),
        case("director at night", request(director, Entry, sun(23, 0)), OutsideHours, &[]),
        case("second entry without an exit", request(pupil(5), Entry, tue(8, 0)).after(Entry, tue(7, 50)), Passback, &[]),
        case("second exit without an entry", request(pupil(5), Exit, tue(15, 0)).after(Exit, tue(14, 50)), Allowed, &[PassbackSoft]),
        case("grade 3 leaving during a lesson", request(pupil(3), Exit, tue(9, 0)), LessonsInProgress, &[]),
        case("pupil arriving late", request(pupil(5), Entry, tue(8, 45)), Allowed, &[Late]),
        case("within the grace minute", request(pupil(5), Entry, tue(8, 31)), Allowed, &[]),
        case("past the grace minute", request(pupil(5), Entry, tue(8, 32)), Allowed, &[Late]),
        case("back in after stepping out: not late", request(pupil(5), Entry, tue(8, 45)).after(Exit, tue(8, 40)), Allowed, &[]),
        case("after the lessons: a club, not late", request(pupil(5), Entry, tue(15, 0)), Allowed, &[]),
        case("a refused late entry", request(pupil(5), Entry, tue(8, 45)).after(Entry, tue(8, 40)), Passback, &[]),
    ];
    let (reasons, flags) = run(cases, moscow());
    let all_reasons: BTreeSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    let all_flags: BTreeSet<_> = Flag::ALL.iter().map(|f| f.as_str()).collect();
    assert_eq!(reasons, all_reasons, "every reason is reached by some case");
    assert_eq!(flags, all_flags, "every flag is raised by some case");
}

#[test]
fn anti_passback_modes() {
    use Flag::*;
    use Reason::*;
    let mon = |h, m| msk(date(2025, 9, 1), h, m);
    let entry = || request(staff(&[Role::Cashier]), Entry, tue(9, 0));
    let exit = || request(staff(&[Role::Cashier]), Exit, tue(9, 0));
    fn soft(r: &mut AccessRules) {
        r.policy.anti_passback.mode = PassbackMode::Soft;
    }
    fn off(r: &mut AccessRules) {
        r.policy.anti_passback.mode = PassbackMode::Off;
    }
    fn no_reset(r: &mut AccessRules) {
        r.policy.anti_passback.reset_at_midnight = false;
    }
    fn forgive_after_12_h(r: &mut AccessRules) {
        no_reset(r);
        r.policy.anti_passback.forgive_after_minutes = Some(12 * 60);
    }
    fn main_off(r: &mut AccessRules) {
        let zone = ZonePassback {
            zone: ZoneId::main(),
            mode: PassbackMode::Off,
        };
        r.policy.anti_passback.zones.push(zone);
    }
    #[rustfmt::skip]
    let cases = vec![
        case("strict: entry after entry", entry().after(Entry, tue(8, 0)), Passback, &[]),
        case("strict: entry after exit", entry().after(Exit, tue(8, 0)), Allowed, &[]),
        case("strict: exit after entry", exit().after(Entry, tue(8, 0)), Allowed, &[]),
        case("strict: exit after exit is let out", exit().after(Exit, tue(8, 0)), Allowed, &[PassbackSoft]),
        case("strict: yesterday's entry is reset at midnight", entry().after(Entry, mon(23, 0)), Allowed, &[]),
        case("strict, no nightly reset", entry().after(Entry, mon(23, 0)), Passback, &[]).with(no_reset),
        case("strict, forgiven after 12 h", entry().after(Entry, mon(21, 0)), Allowed, &[]).with(forgive_after_12_h),
        case("strict, not yet 12 h", entry().after(Entry, mon(21, 1)), Passback, &[]).with(forgive_after_12_h),
        case("strict: another zone's pass", entry().after_in("sport", Entry, tue(8, 0)), Allowed, &[]),
        case("strict: the guard lets them in", entry().after(Entry, tue(8, 0)).by_guard(), Allowed, &[Override])
            .setting_aside(Passback),
        case("soft: entry after entry", entry().after(Entry, tue(8, 0)), Allowed, &[PassbackSoft]).with(soft),
        case("soft: exit after exit", exit().after(Exit, tue(8, 0)), Allowed, &[PassbackSoft]).with(soft),
        case("soft: entry after exit", entry().after(Exit, tue(8, 0)), Allowed, &[]).with(soft),
        case("off: entry after entry", entry().after(Entry, tue(8, 0)), Allowed, &[]).with(off),
        case("a zone's own mode wins", entry().after(Entry, tue(8, 0)), Allowed, &[]).with(main_off),
    ];
    run(cases, moscow());
}

#[test]
fn leaving_during_lessons() {
    use Flag::*;
    use Reason::*;
    let shortened = |h, m| msk(date(2026, 4, 30), h, m);
    let sat = |h, m| msk(date(2025, 9, 6), h, m);
    let out = |grade, at| request(pupil(grade), Exit, at);
    fn breaks_too(r: &mut AccessRules) {
        r.policy.no_leaving[0].breaks_too = true;
    }
    fn second_shift(r: &mut AccessRules) {
        let class_id = class(3, 3).id;
        let exception = ClassTimetable {
            class_id,
            shift: Some(Shift::Second),
            lessons_per_day: None,
        };
        r.bells.classes.push(exception);
    }
    #[rustfmt::skip]
    let cases = vec![
        case("grade 3 in a lesson", out(3, tue(9, 0)), LessonsInProgress, &[]),
        case("grade 3 in a lesson, the guard lets them out", out(3, tue(9, 0)).by_guard(), Allowed, &[Override])
            .setting_aside(LessonsInProgress),
        case("an override with nothing to set aside", out(3, tue(9, 15)).by_guard(), Allowed, &[]),
        case("grade 3 in a break", out(3, tue(9, 15)), Allowed, &[]),
        case("grade 3 in a break, breaks too", out(3, tue(9, 15)), LessonsInProgress, &[]).with(breaks_too),
        case("grade 3 after the last lesson, breaks too", out(3, tue(12, 50)), Allowed, &[]).with(breaks_too),
        case("grade 3 before lessons", out(3, tue(8, 15)), Allowed, &[]),
        case("grade 7 has no such rule", out(7, tue(9, 0)), Allowed, &[]),
        case("grade 3 on a Saturday (five-day week)", out(3, sat(9, 0)), Allowed, &[]),
        case("a shortened day: 09:05 is a break", out(3, shortened(9, 5)), Allowed, &[]),
        case("a shortened day: 09:20 is the second lesson", out(3, shortened(9, 20)), LessonsInProgress, &[]),
        case("a full day: 09:05 is the first lesson", out(3, tue(9, 5)), LessonsInProgress, &[]),
        case("second shift: free in the morning", out(3, tue(9, 0)), Allowed, &[]).with(second_shift),
        case("second shift: kept in the afternoon", out(3, tue(14, 10)), LessonsInProgress, &[]).with(second_shift),
        case("a second exit in a lesson", out(3, tue(9, 0)).after(Exit, tue(8, 50)), LessonsInProgress, &[PassbackSoft]),
        case("a lost card in a lesson", out(3, tue(9, 0)).card(Some(CardState::Lost)).by_guard(), CardLost, &[]),
    ];
    run(cases, moscow());
}

#[test]
fn local_hour_and_date_follow_the_school_zone() {
    use Flag::*;
    use Reason::*;
    let utc = |y, m, d, h, mi| Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap();
    // (zone, UTC instant, expected reason, flags) for a pupil of grade 5 entering.
    #[rustfmt::skip]
    let rows: &[(&str, DateTime<Utc>, Reason, &[Flag])] = &[
        // Tuesday 04:45 UTC: 07:45 in Moscow (UTC+3), 14:45 in Vladivostok (UTC+10).
        ("Europe/Moscow", utc(2025, 9, 2, 4, 45), Allowed, &[]),
        ("Asia/Vladivostok", utc(2025, 9, 2, 4, 45), Allowed, &[]),
        // Sunday 22:30 UTC: Monday 01:30 in Moscow, Monday 08:30 in Vladivostok.
        ("Europe/Moscow", utc(2025, 9, 7, 22, 30), OutsideHours, &[]),
        ("Asia/Vladivostok", utc(2025, 9, 7, 22, 30), Allowed, &[]),
        // Monday 23:00 UTC: Tuesday 02:00 in Moscow; Tuesday 09:00 in Vladivostok, late.
        ("Europe/Moscow", utc(2025, 9, 1, 23, 0), OutsideHours, &[]),
        ("Asia/Vladivostok", utc(2025, 9, 1, 23, 0), Allowed, &[Late]),
        // Saturday 21:30 UTC: Sunday in both.
        ("Europe/Moscow", utc(2025, 9, 6, 21, 30), NotASchoolDay, &[]),
        ("Asia/Vladivostok", utc(2025, 9, 6, 21, 30), NotASchoolDay, &[]),
        // Kaliningrad is UTC+2: Tuesday 05:20 UTC is 07:20 there, 08:20 in Moscow.
        ("Europe/Kaliningrad", utc(2025, 9, 2, 5, 20), OutsideHours, &[]),
        ("Europe/Moscow", utc(2025, 9, 2, 5, 20), Allowed, &[]),
    ];
    let rules = rules_2025();
    for &(tz, at, reason, flags) in rows {
        let got = decide(&rules, zone(tz), &request(pupil(5), Entry, at));
        assert_eq!(
            (got.reason, got.flags.as_slice()),
            (reason, flags),
            "{tz} {at}"
        );
    }
}
