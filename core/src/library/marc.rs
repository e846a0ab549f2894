//! ISO 2709 records (MARC21 and RUSMARC) → catalogue entries, one per record.
//!
//! A record is a 24-byte leader (record length in bytes 0–4, base address of the data in
//! bytes 12–16), a directory of 12-byte entries (tag, field length, start offset from the
//! base address) closed by the field terminator `0x1E`, then the fields, each closed by
//! `0x1E`; the record ends with `0x1D`. Data fields begin with two indicators and hold
//! subfields introduced by `0x1F` and a one-character code. A wrong record length is
//! tolerated (files edited by hand or re-encoded often have one): records are split on
//! `0x1D`, and a base address that does not point past the directory is replaced by the
//! first `0x1E`. Text is UTF-8; a field that is not UTF-8 is read as Windows-1251 (the
//! encoding of many Russian library systems' exports); MARC-8 is not read.
//!
//! A record is RUSMARC (UNIMARC) when it has field 200 and no 245; otherwise MARC21.
//!
//! | what       | MARC21                               | RUSMARC                        |
//! |------------|--------------------------------------|--------------------------------|
//! | ISBN       | 020 $a                               | 010 $a                         |
//! | title      | 245 $a, « : » $b                     | 200 $a, « : » $e               |
//! | authors    | 100 $a, 700 $a                       | 700, 701 $a + $b               |
//! | publisher  | 260 / 264 $b                         | 210 / 214 $c                   |
//! | year       | 260 / 264 $c (first four digits)     | 210 / 214 $d                   |
//! | subject    | 650 $a, else 084 $a                  | 606 $a, else 675 $a            |
//! | age mark   | 521 $a when it reads like «12+»      | 333 $a when it reads like «12+»|
//! | copies     | 852, 876, 949                        | 899, 852                       |
//!
//! Copies follow the common holdings convention: one copy per holdings field that names
//! an inventory number, `$p` (MARC21 852/876 "piece designation", the barcode; RUSMARC
//! 899 "инвентарный номер"), else `$x` (RUSMARC 899 barcode); the location is the first
//! non-empty of `$j` (shelving control number, «расстановочный шифр»), `$h` (call number),
//! `$c` (shelving location), `$b` (sublocation), and for RUSMARC 899 `$a` («место
//! хранения»). A holdings field without an inventory number is not a copy. Trailing ISBD
//! punctuation (` /`, ` :`, `,`, `.`) is dropped from every value.
//!
//! Nothing is checked here beyond the record's structure: [`super::import`] checks the
//! values (title present, ISBN valid, …) the same way for MARC and for CSV.

use super::import::{EntryCopy, RawEntry, Reason, RecordIssue};

/// Longest record the standard can express (five digits of length).
const RECORD_BYTES_STANDARD_MAX: usize = 99_999;
/// Fields in one record. A rich bibliographic record has fifty; the rest are holdings,
/// one per copy, and a school's textbook set is a few hundred copies of one title.
pub const FIELDS_PER_RECORD_MAX: usize = 2_000;
/// Records read from one file: a large school library holds about 30,000 titles.
pub const MARC_RECORDS_MAX: usize = 50_000;

const LEADER_BYTES: usize = 24;
const DIRECTORY_ENTRY_BYTES: usize = 12;
const FIELD_TERMINATOR: u8 = 0x1E;
const RECORD_TERMINATOR: u8 = 0x1D;
const SUBFIELD_DELIMITER: u8 = 0x1F;

/// Does this look like ISO 2709? Five digits of length and both terminators early on.
pub fn looks_like_iso2709(bytes: &[u8]) -> bool {
    bytes.len() >= LEADER_BYTES
        && bytes[..5].iter().all(u8::is_ascii_digit)
        && bytes.contains(&RECORD_TERMINATOR)
        && bytes[LEADER_BYTES..]
            .iter()
            .take(RECORD_BYTES_STANDARD_MAX)
            .any(|b| *b == FIELD_TERMINATOR)
}

/// One record read: its flavour and its entry, or why it could not be read.
pub type ReadRecord = (Flavour, Result<RawEntry, RecordIssue>);

/// Which flavour of MARC a record was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Marc21,
    Rusmarc,
}

/// One field of a record: control fields (`001`–`009`) keep their text in `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    tag: String,
    value: String,
    subfields: Vec<(char, String)>,
}

impl Field {
    fn first(&self, code: char) -> Option<&str> {
        self.subfields
            .iter()
            .find(|(c, v)| *c == code && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// The records of a file: each one entry, or why it could not be read. `tick` is told
/// how many bytes have been read so far.
pub fn read_records(bytes: &[u8], tick: &dyn Fn(u64)) -> Result<Vec<ReadRecord>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        // Line breaks or padding between records are not records.
        if bytes[at].is_ascii_whitespace() || bytes[at] == 0 {
            at += 1;
            continue;
        }
        if out.len() >= MARC_RECORDS_MAX {
            return Err(format!(
                "the file has more than {MARC_RECORDS_MAX} records; import it in parts"
            ));
        }
        let number = out.len() as u32 + 1;
        let rest = &bytes[at..];
        let declared = std::str::from_utf8(&rest[..rest.len().min(5)])
            .ok()
            .and_then(|s| s.parse::<usize>().ok());
        let end = match declared {
            Some(len)
                if len >= LEADER_BYTES
                    && len <= rest.len()
                    && rest[len - 1] == RECORD_TERMINATOR =>
            {
                len
            }
            _ => match rest.iter().position(|b| *b == RECORD_TERMINATOR) {
                Some(i) => i + 1,
                None => {
                    out.push((
                        Flavour::Marc21,
                        Err(issue(
                            number,
                            "",
                            Reason::TruncatedRecord,
                            "the file ends inside this record (no record terminator)",
                        )),
                    ));
                    break;
                }
            },
        };
        out.push(read_record(number, &rest[..end]));
        at += end;
        tick(at as u64);
    }
    Ok(out)
}

fn issue(record: u32, field: &str, code: Reason, message: impl Into<String>) -> RecordIssue {
    RecordIssue {
        record,
        field: field.to_owned(),
        code,
        value: String::new(),
        message: message.into(),
    }
}

fn read_record(number: u32, rec: &[u8]) -> ReadRecord {
    match read_fields(number, rec) {
        Err(e) => (Flavour::Marc21, Err(e)),
        Ok(fields) => {
            let has = |tag: &str| fields.iter().any(|f| f.tag == tag);
            let flavour = if has("200") && !has("245") {
                Flavour::Rusmarc
            } else {
                Flavour::Marc21
            };
            let entry = match flavour {
                Flavour::Marc21 => marc21_entry(number, &fields),
                Flavour::Rusmarc => rusmarc_entry(number, &fields),
            };
            (flavour, Ok(entry))
        }
    }
}

fn read_fields(number: u32, rec: &[u8]) -> Result<Vec<Field>, RecordIssue> {
    if rec.len() < LEADER_BYTES + 1 {
        return Err(issue(
            number,
            "leader",
            Reason::TruncatedRecord,
            format!("{} bytes: shorter than a leader", rec.len()),
        ));
    }
    let first_terminator = rec[LEADER_BYTES..]
        .iter()
        .position(|b| *b == FIELD_TERMINATOR)
        .map(|i| LEADER_BYTES + i)
        .ok_or_else(|| {
            issue(
                number,
                "directory",
                Reason::BadDirectory,
                "the directory has no field terminator",
            )
        })?;
    let declared_base = std::str::from_utf8(&rec[12..17])
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    let base = match declared_base {
        Some(b) if b > LEADER_BYTES && b <= rec.len() && rec[b - 1] == FIELD_TERMINATOR => b,
        _ => first_terminator + 1,
    };
    let directory = &rec[LEADER_BYTES..base - 1];
    if !directory.len().is_multiple_of(DIRECTORY_ENTRY_BYTES) {
        return Err(issue(
            number,
            "directory",
            Reason::BadDirectory,
            format!(
                "the directory is {} bytes, not a multiple of {DIRECTORY_ENTRY_BYTES}",
                directory.len()
            ),
        ));
    }
    let entries = directory.len() / DIRECTORY_ENTRY_BYTES;
    if entries > FIELDS_PER_RECORD_MAX {
        return Err(issue(
            number,
            "directory",
            Reason::TooManyFields,
            format!("{entries} fields; at most {FIELDS_PER_RECORD_MAX} are read"),
        ));
    }
    let data = &rec[base..];
    let mut fields = Vec::with_capacity(entries);
    for entry in directory.chunks(DIRECTORY_ENTRY_BYTES) {
        let text = std::str::from_utf8(entry).unwrap_or("");
        let parsed = (text.len() == DIRECTORY_ENTRY_BYTES)
            .then(|| {
                let tag = &text[..3];
                let len = text[3..7].parse::<usize>().ok()?;
                let start = text[7..12].parse::<usize>().ok()?;
                Some((tag, len, start))
            })
            .flatten();
        let Some((tag, len, start)) = parsed else {
            return Err(issue(
                number,
                "directory",
                Reason::BadDirectory,
                format!(
                    "the directory entry «{}» is not a tag, length and start",
                    text.escape_debug()
                ),
            ));
        };
        let Some(raw) = data.get(start..start.saturating_add(len)) else {
            return Err(issue(
                number,
                tag,
                Reason::TruncatedRecord,
                format!(
                    "field {tag} runs past the end of the record (start {start}, length {len})"
                ),
            ));
        };
        let raw = raw.strip_suffix(&[FIELD_TERMINATOR]).unwrap_or(raw);
        fields.push(parse_field(tag, raw));
    }
    Ok(fields)
}

fn parse_field(tag: &str, raw: &[u8]) -> Field {
    if tag.starts_with("00") {
        return Field {
            tag: tag.to_owned(),
            value: decode(raw),
            subfields: Vec::new(),
        };
    }
    let subfields = raw
        .split(|b| *b == SUBFIELD_DELIMITER)
        .skip(1) // the indicators
        .filter_map(|part| {
            let text = decode(part);
            let mut chars = text.chars();
            let code = chars.next()?;
            Some((code, chars.as_str().to_owned()))
        })
        .collect();
    Field {
        tag: tag.to_owned(),
        value: String::new(),
        subfields,
    }
}

fn decode(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1251
            .decode_without_bom_handling(raw)
            .0
            .into_owned(),
    }
}

/// A value without the ISBD punctuation that separates it from the next element.
fn clean(value: &str) -> String {
    let v = value.trim().trim_start_matches('[');
    let mut kept = v.trim_end_matches([' ', '/', ':', ';', ',', '=', '.', ']']);
    // An initial's full stop belongs to the name («Толстой, Л. Н.»).
    let mut last_two = kept.chars().rev();
    let initial = last_two.next().is_some_and(char::is_uppercase)
        && matches!(last_two.next(), Some(' ' | '.'));
    if initial && v[kept.len()..].starts_with('.') {
        kept = &v[..kept.len() + 1];
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first four consecutive digits («c2015.», «[2019]»), or the value as given when
/// there are none (the check then says it is not a year).
fn year_of(value: &str) -> String {
    let digits: Vec<char> = value.chars().collect();
    digits
        .windows(4)
        .find(|w| w.iter().all(char::is_ascii_digit))
        .map(|w| w.iter().collect())
        .unwrap_or_else(|| clean(value))
}

/// «12+» in free text («Для детей старше 12 лет. 12+»), or nothing: the note is free text.
fn age_mark_of(value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let plus = chars.iter().position(|c| *c == '+')?;
    let mut start = plus;
    while start > 0 && (chars[start - 1].is_ascii_digit() || chars[start - 1] == ' ') {
        start -= 1;
    }
    let digits: String = chars[start..plus]
        .iter()
        .filter(|c| !c.is_whitespace())
        .collect();
    (!digits.is_empty()).then(|| format!("{digits}+"))
}

fn fields<'f>(all: &'f [Field], tags: &'f [&str]) -> impl Iterator<Item = &'f Field> {
    all.iter().filter(move |f| tags.contains(&f.tag.as_str()))
}

fn first_of(all: &[Field], tags: &[&str], code: char) -> Option<String> {
    fields(all, tags).find_map(|f| f.first(code)).map(clean)
}

fn copies(all: &[Field], tags: &[&str], rusmarc: bool) -> Vec<EntryCopy> {
    fields(all, tags)
        .filter_map(|f| {
            let barcode = f.first('p').or_else(|| f.first('x'))?;
            let mut places = vec!['j', 'h', 'c', 'b'];
            if rusmarc && f.tag == "899" {
                places = vec!['j', 'a', 'b'];
            }
            let location = places.iter().find_map(|c| f.first(*c)).map(clean);
            Some(EntryCopy {
                barcode: barcode.trim().to_owned(),
                location: location.unwrap_or_default(),
            })
        })
        .collect()
}

fn marc21_entry(number: u32, all: &[Field]) -> RawEntry {
    let title = fields(all, &["245"])
        .next()
        .map(|f| {
            let a = f.first('a').map(clean).unwrap_or_default();
            match f.first('b').map(clean) {
                Some(b) if !a.is_empty() => format!("{a} : {b}"),
                _ => a,
            }
        })
        .unwrap_or_default();
    let authors = fields(all, &["100", "700"])
        .filter_map(|f| f.first('a'))
        .map(clean)
        .collect();
    RawEntry {
        record: number,
        title,
        authors,
        isbn: first_of(all, &["020"], 'a')
            .map(|i| isbn_token(&i))
            .unwrap_or_default(),
        publisher: first_of(all, &["260", "264"], 'b').unwrap_or_default(),
        year: fields(all, &["260", "264"])
            .find_map(|f| f.first('c'))
            .map(year_of)
            .unwrap_or_default(),
        subject: first_of(all, &["650"], 'a')
            .or_else(|| first_of(all, &["084"], 'a'))
            .unwrap_or_default(),
        age_mark: fields(all, &["521"])
            .filter_map(|f| f.first('a'))
            .find_map(age_mark_of)
            .unwrap_or_default(),
        item_type: String::new(),
        copies: copies(all, &["852", "876", "949"], false),
    }
}

fn rusmarc_entry(number: u32, all: &[Field]) -> RawEntry {
    let title = fields(all, &["200"])
        .next()
        .map(|f| {
            let a = f.first('a').map(clean).unwrap_or_default();
            match f.first('e').map(clean) {
                Some(e) if !a.is_empty() => format!("{a} : {e}"),
                _ => a,
            }
        })
        .unwrap_or_default();
    let authors = fields(all, &["700", "701"])
        .filter_map(|f| {
            let surname = clean(f.first('a')?);
            Some(match f.first('b').map(clean) {
                Some(initials) => format!("{surname} {initials}"),
                None => surname,
            })
        })
        .collect();
    RawEntry {
        record: number,
        title,
        authors,
        isbn: first_of(all, &["010"], 'a')
            .map(|i| isbn_token(&i))
            .unwrap_or_default(),
        publisher: first_of(all, &["210", "214"], 'c').unwrap_or_default(),
        year: fields(all, &["210", "214"])
            .find_map(|f| f.first('d'))
            .map(year_of)
            .unwrap_or_default(),
        subject: first_of(all, &["606"], 'a')
            .or_else(|| first_of(all, &["675"], 'a'))
            .unwrap_or_default(),
        age_mark: fields(all, &["333"])
            .filter_map(|f| f.first('a'))
            .find_map(age_mark_of)
            .unwrap_or_default(),
        item_type: String::new(),
        copies: copies(all, &["899", "852"], true),
    }
}

/// The ISBN itself from `$a`, which may carry a qualifier («978-5-… (в пер.)»).
fn isbn_token(value: &str) -> String {
    value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches([':', ';', ','])
        .to_owned()
}

/// Builds one ISO 2709 record for the tests: `(tag, subfields)`, blank indicators; a
/// control field (`00x`) holds its first subfield's value.
#[cfg(test)]
fn build_record(fields: &[(&str, &[(char, &str)])]) -> Vec<u8> {
    let mut directory: Vec<u8> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, subfields) in fields {
        let mut field: Vec<u8> = Vec::new();
        if tag.starts_with("00") {
            field.extend(subfields.first().map(|(_, v)| v.as_bytes()).unwrap_or(b""));
        } else {
            field.extend(b"  ");
            for (code, value) in *subfields {
                field.push(SUBFIELD_DELIMITER);
                field.extend(code.to_string().as_bytes());
                field.extend(value.as_bytes());
            }
        }
        field.push(FIELD_TERMINATOR);
        directory.extend(format!("{tag}{:04}{:05}", field.len(), data.len()).as_bytes());
        data.extend(field);
    }
    let base = LEADER_BYTES + directory.len() + 1;
    let len = base + data.len() + 1;
    let mut rec = format!("{len:05}nam a22{base:05}   4500").into_bytes();
    rec.extend(directory);
    rec.push(FIELD_TERMINATOR);
    rec.extend(data);
    rec.push(RECORD_TERMINATOR);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Vec<ReadRecord> {
        read_records(bytes, &|_| {}).unwrap()
    }

    fn marc21_record() -> Vec<u8> {
        build_record(&[
            ("001", &[('a', "rec-1")]),
            ("020", &[('a', "978-5-389-07435-4 (в пер.)")]),
            ("100", &[('a', "Толстой, Л. Н.")]),
            (
                "245",
                &[
                    ('a', "Война и мир :"),
                    ('b', "роман в 4 т. /"),
                    ('c', "Л. Н. Толстой"),
                ],
            ),
            (
                "264",
                &[('a', "Москва :"), ('b', "Азбука,"), ('c', "c2015.")],
            ),
            ("521", &[('a', "Для среднего школьного возраста. 12+")]),
            ("650", &[('a', "Русская литература")]),
            ("700", &[('a', "Иванов, И. И.")]),
            (
                "852",
                &[
                    ('a', "Школа 1"),
                    ('b', "Абонемент"),
                    ('j', "Стеллаж 3"),
                    ('p', "000101"),
                ],
            ),
            ("949", &[('p', "000102"), ('b', "Читальный зал")]),
            ("876", &[('a', "без номера")]),
        ])
    }

    #[test]
    fn a_marc21_record_reads_as_one_entry_with_its_copies() {
        let records = read(&marc21_record());
        assert_eq!(records.len(), 1);
        let (flavour, entry) = &records[0];
        assert_eq!(*flavour, Flavour::Marc21);
        let entry = entry.as_ref().unwrap();
        assert_eq!(
            entry,
            &RawEntry {
                record: 1,
                title: "Война и мир : роман в 4 т".into(),
                authors: vec!["Толстой, Л. Н.".into(), "Иванов, И. И.".into()],
                isbn: "978-5-389-07435-4".into(),
                publisher: "Азбука".into(),
                year: "2015".into(),
                subject: "Русская литература".into(),
                age_mark: "12+".into(),
                item_type: String::new(),
                copies: vec![
                    EntryCopy {
                        barcode: "000101".into(),
                        location: "Стеллаж 3".into()
                    },
                    EntryCopy {
                        barcode: "000102".into(),
                        location: "Читальный зал".into()
                    },
                ],
            }
        );
    }

    #[test]
    fn a_rusmarc_record_is_told_by_its_200_field() {
        let rec = build_record(&[
            ("010", &[('a', "5-17-012345-X"), ('d', "150 р.")]),
            (
                "200",
                &[
                    ('a', "Алгебра"),
                    ('e', "7 класс : учебник"),
                    ('f', "Ю. Н. Макарычев"),
                ],
            ),
            ("210", &[('a', "М."), ('c', "Просвещение"), ('d', "2019")]),
            ("333", &[('a', "6+")]),
            ("606", &[('a', "Математика")]),
            ("700", &[('a', "Макарычев"), ('b', "Ю. Н.")]),
            ("701", &[('a', "Миндюк"), ('b', "Н. Г.")]),
            ("899", &[('a', "Библиотека"), ('p', "У-0001")]),
            ("899", &[('j', "Полка 2"), ('x', "У-0002")]),
        ]);
        let records = read(&rec);
        let (flavour, entry) = &records[0];
        assert_eq!(*flavour, Flavour::Rusmarc);
        let entry = entry.as_ref().unwrap();
        assert_eq!(entry.title, "Алгебра : 7 класс : учебник");
        assert_eq!(entry.authors, ["Макарычев Ю. Н.", "Миндюк Н. Г."]);
        assert_eq!(entry.isbn, "5-17-012345-X");
        assert_eq!(
            (entry.publisher.as_str(), entry.year.as_str()),
            ("Просвещение", "2019")
        );
        assert_eq!(
            (entry.subject.as_str(), entry.age_mark.as_str()),
            ("Математика", "6+")
        );
        let copies: Vec<(&str, &str)> = entry
            .copies
            .iter()
            .map(|c| (c.barcode.as_str(), c.location.as_str()))
            .collect();
        assert_eq!(copies, [("У-0001", "Библиотека"), ("У-0002", "Полка 2")]);
    }

    #[test]
    fn a_wrong_record_length_is_tolerated_by_splitting_on_the_terminator() {
        let mut first = marc21_record();
        first[..5].copy_from_slice(b"00007");
        let mut file = first;
        file.extend(b"\r\n");
        file.extend(marc21_record());
        let records = read(&file);
        assert_eq!(records.len(), 2);
        assert!(records.iter().all(|(_, r)| r.is_ok()), "{records:?}");
    }

    #[test]
    fn a_truncated_record_is_an_error_with_its_number_after_good_ones() {
        let mut file = marc21_record();
        let second = marc21_record();
        file.extend(&second[..second.len() / 2]);
        let records = read(&file);
        assert_eq!(records.len(), 2);
        assert!(records[0].1.is_ok());
        let e = records[1].1.as_ref().unwrap_err();
        assert_eq!((e.record, e.code), (2, Reason::TruncatedRecord));
    }

    #[test]
    fn a_directory_pointing_past_the_record_is_an_error() {
        let mut rec = marc21_record();
        // The first entry's start offset (bytes 7–11 of the entry) far past the end.
        rec[LEADER_BYTES + 7..LEADER_BYTES + 12].copy_from_slice(b"90000");
        let records = read(&rec);
        let e = records[0].1.as_ref().unwrap_err();
        assert_eq!((e.record, e.code), (1, Reason::TruncatedRecord));

        let mut rec = marc21_record();
        rec[LEADER_BYTES + 3] = b'x';
        let e = read(&rec)[0].1.clone().unwrap_err();
        assert_eq!(e.code, Reason::BadDirectory);
    }

    #[test]
    fn a_record_without_a_title_reads_with_an_empty_title() {
        let rec = build_record(&[("020", &[('a', "9785389074354")]), ("852", &[('p', "7")])]);
        let entry = read(&rec)[0].1.clone().unwrap();
        assert_eq!(entry.title, "");
        assert_eq!(entry.copies.len(), 1);
    }

    #[test]
    fn windows_1251_text_is_read() {
        let (title, _, _) = encoding_rs::WINDOWS_1251.encode("Азбука");
        let mut rec = build_record(&[("200", &[('a', "XXXXXX")])]);
        let at = rec.windows(6).position(|w| w == b"XXXXXX").unwrap();
        // Six Cyrillic letters are six bytes in Windows-1251: the lengths stay right.
        rec.splice(at..at + 6, title.iter().copied());
        let entry = read(&rec)[0].1.clone().unwrap();
        assert_eq!(entry.title, "Азбука");
    }

    #[test]
    fn iso2709_is_told_from_csv() {
        assert!(looks_like_iso2709(&marc21_record()));
        assert!(!looks_like_iso2709(
            "Название;ISBN\nВойна и мир;\n".as_bytes()
        ));
    }

    #[test]
    fn age_marks_and_years_are_found_in_free_text() {
        assert_eq!(
            age_mark_of("Для детей старше 12 лет. 12+"),
            Some("12+".into())
        );
        assert_eq!(age_mark_of("0 +"), Some("0+".into()));
        assert_eq!(age_mark_of("Для старшего возраста"), None);
        assert_eq!(year_of("c2015."), "2015");
        assert_eq!(year_of("[2019]"), "2019");
    }
}
