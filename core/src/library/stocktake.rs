//! Stocktaking (Инвентаризация): the librarian walks the shelves with a scanner; what the
//! catalogue expects on them and what was scanned give the report — the copies missing,
//! the copies on the wrong shelf, the copies scanned that should not be in the library at
//! all (on loan, lost, written off) and the barcodes nobody knows.
//!
//! Pure: [`report`] takes the copies as the catalogue has them now and the scans, and
//! compares. Whatever was lent or returned while the stocktake went on is judged by the
//! copy's state at the time of the report.

use super::CopyState;
use serde::Serialize;
use std::collections::BTreeMap;

crate::domain::uuid_id!(
    /// One stocktake, from its start until it is closed.
    StocktakeId
);

/// A copy as the catalogue has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueCopy {
    pub barcode: String,
    pub title: String,
    /// The shelf the catalogue puts it on (may be empty: not placed).
    pub location: String,
    pub state: CopyState,
}

/// The last place a barcode was scanned during the stocktake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub barcode: String,
    /// The shelf being scanned; empty when the librarian named none.
    pub location: String,
}

/// An expected copy nobody scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub barcode: String,
    pub title: String,
    pub location: String,
}

/// A copy on the shelf, but not on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Misplaced {
    pub barcode: String,
    pub title: String,
    /// Where the catalogue puts it.
    pub location: String,
    /// Where it was scanned.
    pub found_at: String,
}

/// A copy scanned that the catalogue says is not in the library (on loan, lost, written
/// off): a loan not returned at the desk, or a copy found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub barcode: String,
    pub title: String,
    pub state: CopyState,
    pub location: String,
    pub found_at: String,
}

/// A barcode scanned that no copy has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    pub barcode: String,
    pub found_at: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Copies on the shelf in the scope: what the stocktake expects to find.
    pub expected: usize,
    /// Distinct barcodes scanned.
    pub scanned: usize,
    /// Expected copies that were scanned.
    pub found: usize,
    pub missing: usize,
    pub misplaced: usize,
    pub anomalies: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StocktakeReport {
    pub missing: Vec<Missing>,
    pub misplaced: Vec<Misplaced>,
    pub anomalies: Vec<Anomaly>,
    pub unknown: Vec<Unknown>,
    pub counts: Counts,
}

/// Two shelf names are the same shelf whatever the case and the spaces around them.
pub fn same_location(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Does a copy on `location` belong to a stocktake of `scope` (empty: the whole library)?
pub fn in_scope(scope: &str, location: &str) -> bool {
    scope.trim().is_empty() || same_location(scope, location)
}

/// What one scanned barcode is, as the scanner's beep says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// On the shelf, where it belongs (or scanned on no named shelf).
    Ok,
    /// On the shelf, but on another one than its own.
    Misplaced,
    /// On loan, lost or written off by the catalogue.
    Anomaly,
    /// No copy has the barcode.
    Unknown,
}

/// The verdict on a barcode scanned on the shelf `found_at`; `copy` is the catalogue's
/// copy under it, if any.
pub fn judge(copy: Option<&CatalogueCopy>, found_at: &str) -> Verdict {
    match copy {
        None => Verdict::Unknown,
        Some(c) if c.state != CopyState::OnShelf => Verdict::Anomaly,
        Some(c) if !found_at.trim().is_empty() && !same_location(&c.location, found_at) => {
            Verdict::Misplaced
        }
        Some(_) => Verdict::Ok,
    }
}

/// The stocktake's report. `copies` is the whole catalogue (each barcode once); `scans`
/// the barcodes scanned, each once, with the shelf where it was scanned last. Every list
/// is sorted by barcode.
///
/// - missing: on the shelf, in the scope, not scanned;
/// - misplaced: on the shelf, scanned on a named shelf that is not its own;
/// - anomalies: scanned, but on loan, lost or written off;
/// - unknown: scanned, no such copy.
pub fn report(scope: &str, copies: &[CatalogueCopy], scans: &[Scan]) -> StocktakeReport {
    let scanned: BTreeMap<&str, &str> = scans
        .iter()
        .map(|s| (s.barcode.as_str(), s.location.as_str()))
        .collect();
    let catalogue: BTreeMap<&str, &CatalogueCopy> =
        copies.iter().map(|c| (c.barcode.as_str(), c)).collect();
    let mut out = StocktakeReport::default();
    for copy in catalogue.values() {
        if copy.state != CopyState::OnShelf || !in_scope(scope, &copy.location) {
            continue;
        }
        out.counts.expected += 1;
        if scanned.contains_key(copy.barcode.as_str()) {
            out.counts.found += 1;
        } else {
            out.missing.push(Missing {
                barcode: copy.barcode.clone(),
                title: copy.title.clone(),
                location: copy.location.clone(),
            });
        }
    }
    for (&barcode, &found_at) in &scanned {
        let copy = catalogue.get(barcode).copied();
        let (title, location) = copy
            .map(|c| (c.title.clone(), c.location.clone()))
            .unwrap_or_default();
        let (barcode, found_at) = (barcode.to_owned(), found_at.to_owned());
        match (judge(copy, &found_at), copy) {
            (Verdict::Unknown, _) | (_, None) => out.unknown.push(Unknown { barcode, found_at }),
            (Verdict::Anomaly, Some(c)) => out.anomalies.push(Anomaly {
                barcode,
                title,
                state: c.state,
                location,
                found_at,
            }),
            (Verdict::Misplaced, Some(_)) => out.misplaced.push(Misplaced {
                barcode,
                title,
                location,
                found_at,
            }),
            (Verdict::Ok, Some(_)) => {}
        }
    }
    out.counts.scanned = scanned.len();
    out.counts.missing = out.missing.len();
    out.counts.misplaced = out.misplaced.len();
    out.counts.anomalies = out.anomalies.len();
    out.counts.unknown = out.unknown.len();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(barcode: &str, location: &str, state: CopyState) -> CatalogueCopy {
        CatalogueCopy {
            barcode: barcode.into(),
            title: format!("Книга {barcode}"),
            location: location.into(),
            state,
        }
    }

    fn scan(barcode: &str, location: &str) -> Scan {
        Scan {
            barcode: barcode.into(),
            location: location.into(),
        }
    }

    fn codes<T>(items: &[T], barcode: impl Fn(&T) -> &str) -> Vec<&str> {
        items.iter().map(barcode).collect()
    }

    /// Each row: the scope, the scans, and the barcodes expected missing, misplaced,
    /// anomalous and unknown.
    #[test]
    fn reports_by_table() {
        use CopyState::*;
        let catalogue = [
            copy("A1", "Стеллаж 1", OnShelf),
            copy("A2", "Стеллаж 1", OnShelf),
            copy("A3", "стеллаж 1 ", OnShelf),
            copy("B1", "Стеллаж 2", OnShelf),
            copy("B2", "Стеллаж 2", OnLoan),
            copy("B3", "Стеллаж 2", Lost),
            copy("C1", "", OnShelf),
        ];
        type Row<'a> = (
            &'a str,
            Vec<Scan>,
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
        );
        let rows: Vec<Row> = vec![
            // Nothing scanned: every copy on a shelf is missing; on loan and lost are not.
            ("", vec![], &["A1", "A2", "A3", "B1", "C1"], &[], &[], &[]),
            // A scope takes one shelf, whatever the case and spaces.
            (
                " стеллаж 1",
                vec![scan("A1", "Стеллаж 1")],
                &["A2", "A3"],
                &[],
                &[],
                &[],
            ),
            // A copy found on another shelf is misplaced, not missing; out-of-scope ones
            // scanned are judged too; a scan without a shelf judges no placement.
            (
                "Стеллаж 1",
                vec![
                    scan("A1", "Стеллаж 2"),
                    scan("A2", ""),
                    scan("A3", "Стеллаж 1"),
                    scan("B1", "Стеллаж 1"),
                ],
                &[],
                &["A1", "B1"],
                &[],
                &[],
            ),
            // Copies on loan or lost that turn up, and barcodes nobody knows.
            (
                "",
                vec![
                    scan("B2", "Стеллаж 2"),
                    scan("B3", "Стеллаж 3"),
                    scan("Z9", "Стеллаж 2"),
                    scan("C1", "Стеллаж 5"),
                ],
                &["A1", "A2", "A3", "B1"],
                &["C1"],
                &["B2", "B3"],
                &["Z9"],
            ),
        ];
        for (scope, scans, missing, misplaced, anomalies, unknown) in rows {
            let r = report(scope, &catalogue, &scans);
            assert_eq!(
                codes(&r.missing, |m| &m.barcode),
                missing,
                "missing, {scope:?} {scans:?}"
            );
            assert_eq!(
                codes(&r.misplaced, |m| &m.barcode),
                misplaced,
                "misplaced, {scans:?}"
            );
            assert_eq!(
                codes(&r.anomalies, |m| &m.barcode),
                anomalies,
                "anomalies, {scans:?}"
            );
            assert_eq!(
                codes(&r.unknown, |m| &m.barcode),
                unknown,
                "unknown, {scans:?}"
            );
            assert_eq!(r.counts.missing, missing.len());
            assert_eq!(r.counts.scanned, scans.len());
            assert_eq!(r.counts.found + r.counts.missing, r.counts.expected);
        }
    }

    #[test]
    fn a_misplaced_copy_names_both_shelves_and_an_anomaly_its_state() {
        let catalogue = [
            copy("A1", "Стеллаж 1", CopyState::OnShelf),
            copy("B2", "Стеллаж 2", CopyState::WrittenOff),
        ];
        let r = report(
            "",
            &catalogue,
            &[scan("A1", "Стеллаж 4"), scan("B2", "Стеллаж 4")],
        );
        assert_eq!(
            r.misplaced,
            vec![Misplaced {
                barcode: "A1".into(),
                title: "Книга A1".into(),
                location: "Стеллаж 1".into(),
                found_at: "Стеллаж 4".into(),
            }]
        );
        assert_eq!(r.anomalies[0].state, CopyState::WrittenOff);
        assert_eq!(r.anomalies[0].found_at, "Стеллаж 4");
        assert_eq!(r.counts.expected, 1);
        assert_eq!(r.counts.found, 1);
    }
}
