use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn pupil(grade: u8, born: Option<&str>) -> Reader {
    Reader {
        category: ReaderCategory::Pupil,
        active: true,
        birth_date: born.map(d),
        grade: Some(grade),
        books_held: 0,
        overdue: 0,
    }
}

fn staff() -> Reader {
    Reader {
        category: ReaderCategory::Staff,
        active: true,
        birth_date: None,
        grade: None,
        books_held: 0,
        overdue: 0,
    }
}

#[test]
fn isbns_are_checked_and_kept_as_isbn_13() {
    let cases: &[(&str, Result<&str, ()>)] = &[
        ("978-5-17-118366-0", Ok("9785171183660")),
        ("9785171183660", Ok("9785171183660")),
        ("ISBN 978-5-17-118366-0", Ok("9785171183660")),
        // ISBN-10 with its check digit X, the same book as 978-0-8044-2957-3.
        ("0-8044-2957-X", Ok("9780804429573")),
        ("0306406152", Ok("9780306406157")),
        ("978-5-17-118366-3", Err(())),
        ("0306406153", Err(())),
        ("123", Err(())),
        ("977-5-17-118366-2", Err(())),
        ("97851711836X2", Err(())),
    ];
    for (typed, expected) in cases {
        let got = Isbn::parse(typed)
            .map(|i| i.as_str().to_owned())
            .map_err(|_| ());
        assert_eq!(got, expected.map(str::to_owned), "{typed}");
    }
}

#[test]
fn due_dates_by_reader_and_item_type() {
    use ItemType::*;
    use ReaderCategory as R;
    let cases: &[(R, ItemType, &str, Result<&str, LoanRefusal>)] = &[
        (R::Pupil, Textbook, "2026-09-01", Ok("2027-05-31")),
        (R::Pupil, Textbook, "2027-05-31", Ok("2027-05-31")),
        // In the summer a textbook is for the coming school year.
        (R::Pupil, Textbook, "2027-06-15", Ok("2028-05-31")),
        (R::Pupil, Fiction, "2026-09-01", Ok("2026-09-15")),
        (R::Pupil, Other, "2026-12-25", Ok("2027-01-08")),
        (
            R::Pupil,
            Reference,
            "2026-09-01",
            Err(LoanRefusal::NotLendable),
        ),
        (R::Staff, Textbook, "2026-09-01", Ok("2027-05-31")),
        (R::Staff, Fiction, "2026-09-01", Ok("2026-10-01")),
        (R::Staff, Other, "2026-09-01", Ok("2026-10-01")),
        (
            R::Staff,
            Reference,
            "2026-09-01",
            Err(LoanRefusal::NotLendable),
        ),
    ];
    for (who, item, today, expected) in cases {
        assert_eq!(
            loan_due(*who, *item, d(today)),
            expected.map(d),
            "{who:?} {item:?} {today}"
        );
    }
}

/// A reader, a copy's state, its type and age mark, and the verdict.
type IssueCase = (
    Reader,
    CopyState,
    ItemType,
    AgeMark,
    Result<&'static str, LoanRefusal>,
);

#[test]
fn issue_refusals() {
    let today = d("2026-10-01");
    let blocked = Reader {
        active: false,
        ..pupil(5, None)
    };
    let owes = Reader {
        overdue: 1,
        ..pupil(5, None)
    };
    let full = Reader {
        books_held: PUPIL_BOOKS_MAX,
        ..pupil(5, None)
    };
    let staff_four_held = Reader {
        books_held: PUPIL_BOOKS_MAX,
        ..staff()
    };
    let cases: &[IssueCase] = &[
        // A book past its due date comes back before another is lent …
        (
            owes,
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Zero,
            Err(LoanRefusal::HasOverdue),
        ),
        // … but the class's textbooks are handed out all the same.
        (
            owes,
            CopyState::OnShelf,
            ItemType::Textbook,
            AgeMark::Zero,
            Ok("2027-05-31"),
        ),
        (
            full,
            CopyState::OnShelf,
            ItemType::Other,
            AgeMark::Zero,
            Err(LoanRefusal::BooksLimit),
        ),
        (
            full,
            CopyState::OnShelf,
            ItemType::Textbook,
            AgeMark::Zero,
            Ok("2027-05-31"),
        ),
        // Staff keep more at once.
        (
            staff_four_held,
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Zero,
            Ok("2026-10-31"),
        ),
        (
            pupil(5, None),
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Twelve,
            Err(LoanRefusal::AgeMark),
        ),
        // Grade 6 ≈ 12 years: allowed 12+.
        (
            pupil(6, None),
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Twelve,
            Ok("2026-10-15"),
        ),
        // The birth date wins over the grade: 11 years and a day short of 12.
        (
            pupil(6, Some("2014-10-02")),
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Twelve,
            Err(LoanRefusal::AgeMark),
        ),
        (
            pupil(6, Some("2014-10-01")),
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Twelve,
            Ok("2026-10-15"),
        ),
        (
            staff(),
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Eighteen,
            Ok("2026-10-31"),
        ),
        (
            blocked,
            CopyState::OnShelf,
            ItemType::Fiction,
            AgeMark::Zero,
            Err(LoanRefusal::ReaderBlocked),
        ),
        (
            pupil(5, None),
            CopyState::OnLoan,
            ItemType::Fiction,
            AgeMark::Zero,
            Err(LoanRefusal::CopyNotOnShelf),
        ),
        (
            pupil(5, None),
            CopyState::Lost,
            ItemType::Fiction,
            AgeMark::Zero,
            Err(LoanRefusal::CopyNotOnShelf),
        ),
        (
            pupil(5, None),
            CopyState::WrittenOff,
            ItemType::Textbook,
            AgeMark::Zero,
            Err(LoanRefusal::CopyNotOnShelf),
        ),
        (
            pupil(5, None),
            CopyState::OnShelf,
            ItemType::Reference,
            AgeMark::Zero,
            Err(LoanRefusal::NotLendable),
        ),
        (
            pupil(1, None),
            CopyState::OnShelf,
            ItemType::Textbook,
            AgeMark::Six,
            Ok("2027-05-31"),
        ),
    ];
    for (reader, state, item, mark, expected) in cases {
        assert_eq!(
            issue_due(reader, *state, *item, *mark, today),
            expected.map(d),
            "{reader:?} {state:?} {item:?} {mark:?}"
        );
    }
}

#[test]
fn renewals_extend_from_today_up_to_the_limit() {
    let reader = pupil(7, None);
    assert_eq!(
        renew_due(&reader, ItemType::Fiction, 0, d("2026-09-10")),
        Ok(d("2026-09-24"))
    );
    assert_eq!(
        renew_due(&reader, ItemType::Fiction, 1, d("2026-09-20")),
        Ok(d("2026-10-04"))
    );
    assert_eq!(
        renew_due(&reader, ItemType::Fiction, RENEWALS_MAX, d("2026-09-20")),
        Err(LoanRefusal::RenewLimit)
    );
    let blocked = Reader {
        active: false,
        ..reader
    };
    assert_eq!(
        renew_due(&blocked, ItemType::Fiction, 0, d("2026-09-20")),
        Err(LoanRefusal::ReaderBlocked)
    );
}

#[test]
fn overdue_days_count_from_the_day_after_the_due_date() {
    let due = d("2026-09-15");
    for (today, days) in [
        ("2026-09-14", 0),
        ("2026-09-15", 0),
        ("2026-09-16", 1),
        ("2026-10-15", 30),
    ] {
        assert_eq!(days_overdue(due, d(today)), days, "{today}");
    }
}

#[test]
fn age_marks_and_states_read_back_their_codes() {
    for mark in ["0+", "6+", "12+", "16+", "18+"] {
        let m = AgeMark::parse(mark).unwrap();
        assert_eq!(serde_json::to_value(m).unwrap(), mark);
    }
    for s in ["on_shelf", "on_loan", "lost", "written_off"] {
        assert_eq!(CopyState::parse(s).unwrap().as_str(), s);
    }
    assert_eq!(LoanRefusal::CopyNotOnShelf.as_str(), "copy_not_on_shelf");
    assert_eq!(
        serde_json::to_value(LoanRefusal::RenewLimit).unwrap(),
        "renew_limit"
    );
}
