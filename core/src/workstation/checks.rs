//! Checks of what a person typed, shared by the commands and the roster import.

use super::{DetailsInput, NameInput, PHOTO_BYTES_MAX};
use crate::domain::FullName;
use crate::error::{CoreError, CoreResult};
use crate::events::PersonDetails;
use chrono::NaiveDate;

pub(crate) fn check_name(input: &NameInput) -> CoreResult<FullName> {
    FullName::new(&input.surname, &input.name, &input.patronymic)
        .map_err(|(field, m)| CoreError::invalid(field, m))
}

/// Cleans free-text details; validates the date, the e-mail's shape and the phone's digits.
pub(crate) fn check_details(input: DetailsInput) -> CoreResult<PersonDetails> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let birth_date = match clean(input.birth_date) {
        None => None,
        Some(s) => Some(
            parse_date(&s)
                .ok_or_else(|| CoreError::invalid("birth_date", format!("{s:?} is not a date")))?,
        ),
    };
    let email = clean(input.email);
    if let Some(e) = &email {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !e.contains(' '));
        if !ok {
            return Err(CoreError::invalid(
                "email",
                format!("{e:?} is not an e-mail address"),
            ));
        }
    }
    let phone = clean(input.phone);
    if let Some(p) = &phone {
        let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
        if !(5..=15).contains(&digits)
            || p.chars()
                .any(|c| !(c.is_ascii_digit() || " +-()".contains(c)))
        {
            return Err(CoreError::invalid(
                "phone",
                format!("{p:?} is not a phone number"),
            ));
        }
    }
    Ok(PersonDetails {
        external_id: clean(input.external_id),
        birth_date,
        phone,
        email,
        position: clean(input.position),
    })
}

/// `2014-03-25` or `25.03.2014` (how Russian documents write dates).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

pub(crate) fn check_login(login: &str) -> CoreResult<String> {
    let login = login.trim().to_lowercase();
    let ok = (2..=40).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(login)
    } else {
        Err(CoreError::invalid(
            "login",
            "2–40 Latin letters, digits, . _ -",
        ))
    }
}

/// Accepts JPEG, PNG, WebP and SVG, checked by their first bytes, not by the name.
pub(crate) fn check_photo(declared_mime: &str, bytes: &[u8]) -> CoreResult<&'static str> {
    if bytes.len() > PHOTO_BYTES_MAX {
        return Err(CoreError::invalid(
            "photo",
            format!("larger than {} MiB", PHOTO_BYTES_MAX / 1024 / 1024),
        ));
    }
    let sniffed = sniff_image(bytes);
    sniffed.ok_or_else(|| {
        CoreError::invalid(
            "photo",
            format!("not a JPEG, PNG, WebP or SVG picture ({declared_mime})"),
        )
    })
}

pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
        (head.contains("<svg")).then_some("image/svg+xml")
    }
}
