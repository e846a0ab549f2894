//! Checks of what a person typed, shared by the commands and the roster import. Each
//! refusal names the field, a [`Refusal`] code and the values its sentence needs.

use super::{DetailsInput, NameInput, PHOTO_BYTES_MAX};
use crate::auth;
use crate::domain::{FullName, NAME_PART_LEN_MAX_CHARS};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::PersonDetails;
use chrono::NaiveDate;
use schoolcard_proto::CardId;
use std::path::Path;

pub const LOGIN_LEN_MIN_CHARS: usize = 2;
pub const LOGIN_LEN_MAX_CHARS: usize = 40;

pub(crate) fn check_name(input: &NameInput) -> CoreResult<FullName> {
    FullName::new(&input.surname, &input.name, &input.patronymic).map_err(|(field, message)| {
        let typed = match field {
            "surname" => &input.surname,
            "name" => &input.name,
            _ => &input.patronymic,
        };
        name_refusal(field, typed, message)
    })
}

/// Says which of `FullName`'s rules a name part broke. The characters it refuses are
/// found by asking the same rule about each one, so the list cannot drift from it.
fn name_refusal(field: &'static str, typed: &str, message: String) -> CoreError {
    let words = typed.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return CoreError::invalid(field, Refusal::Empty, message);
    }
    if words.chars().count() > NAME_PART_LEN_MAX_CHARS {
        return CoreError::invalid(field, Refusal::TooLong, message)
            .with("max", NAME_PART_LEN_MAX_CHARS);
    }
    let mut refused: Vec<char> = words
        .chars()
        .filter(|c| !c.is_whitespace() && FullName::new(&c.to_string(), "Я", "").is_err())
        .collect();
    refused.dedup();
    let chars: String = refused.into_iter().collect();
    CoreError::invalid(field, Refusal::BadCharacters, message).with("chars", chars)
}

/// Cleans free-text details; validates the date, the e-mail's shape and the phone's digits.
pub(crate) fn check_details(input: DetailsInput) -> CoreResult<PersonDetails> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let birth_date = match clean(input.birth_date) {
        None => None,
        Some(s) => Some(parse_date(&s).ok_or_else(|| {
            CoreError::invalid(
                "birth_date",
                Refusal::NotADate,
                format!("{s:?} is not a date"),
            )
            .with("value", &s)
        })?),
    };
    let email = clean(input.email);
    if let Some(e) = &email {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !e.contains(' '));
        if !ok {
            return Err(CoreError::invalid(
                "email",
                Refusal::NotAnEmail,
                format!("{e:?} is not an e-mail address"),
            )
            .with("value", e));
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
                Refusal::NotAPhone,
                format!("{p:?} is not a phone number"),
            )
            .with("value", p));
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
    let ok = (LOGIN_LEN_MIN_CHARS..=LOGIN_LEN_MAX_CHARS).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(login)
    } else {
        Err(CoreError::invalid(
            "login",
            Refusal::BadLogin,
            format!("{LOGIN_LEN_MIN_CHARS}–{LOGIN_LEN_MAX_CHARS} Latin letters, digits, . _ -"),
        )
        .with("min", LOGIN_LEN_MIN_CHARS)
        .with("max", LOGIN_LEN_MAX_CHARS))
    }
}

/// The password policy (`auth`), refused as `too_short` or `too_long` under `field`.
pub(crate) fn check_password(field: &'static str, password: &str) -> CoreResult<()> {
    auth::check_password_policy(password).map_err(|message| {
        if password.chars().count() < auth::PASSWORD_LEN_MIN_CHARS {
            CoreError::invalid(field, Refusal::TooShort, message)
                .with("min", auth::PASSWORD_LEN_MIN_CHARS)
        } else {
            CoreError::invalid(field, Refusal::TooLong, message)
                .with("max", auth::PASSWORD_LEN_MAX_CHARS)
        }
    })
}

pub(crate) fn check_pin(pin: &str) -> CoreResult<()> {
    auth::check_pin_policy(pin).map_err(|message| {
        CoreError::invalid("pin", Refusal::BadPin, message)
            .with("min", auth::PIN_DIGITS_MIN)
            .with("max", auth::PIN_DIGITS_MAX)
    })
}

/// A card number as typed or read, in any form `CardId` reads (`field` is `card`).
pub(crate) fn check_card(typed: &str) -> CoreResult<CardId> {
    let typed = typed.trim();
    typed.parse().map_err(|e| {
        let detail = format!("{e}");
        CoreError::invalid("card", Refusal::BadCard, detail.clone())
            .with("value", typed)
            .with("detail", detail)
    })
}

/// 1 to `max_chars` characters once runs of spaces are one space.
pub(crate) fn check_title(field: &'static str, text: &str, max_chars: usize) -> CoreResult<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(CoreError::invalid(
            field,
            Refusal::Empty,
            "must not be empty",
        ));
    }
    if text.chars().count() > max_chars {
        return Err(CoreError::invalid(
            field,
            Refusal::TooLong,
            format!("longer than {max_chars} characters"),
        )
        .with("max", max_chars));
    }
    Ok(text)
}

/// Accepts JPEG, PNG, WebP and SVG, checked by their first bytes, not by the name.
/// `source` says where the bytes came from (a declared type, a file name), for the log.
pub(crate) fn check_photo(source: &str, bytes: &[u8]) -> CoreResult<&'static str> {
    if bytes.len() > PHOTO_BYTES_MAX {
        return Err(photo_too_large());
    }
    let sniffed = sniff_image(bytes);
    sniffed.ok_or_else(|| {
        CoreError::invalid(
            "photo",
            Refusal::BadPhoto,
            format!("not a JPEG, PNG, WebP or SVG picture ({source})"),
        )
    })
}

/// A file or folder that cannot be read, refused under the field `path`.
pub(crate) fn cannot_read(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::invalid(
        "path",
        Refusal::CannotReadFile,
        format!("cannot read {}: {e}", path.display()),
    )
    .with("path", path.display())
    .with("detail", e)
}

pub(crate) fn photo_too_large() -> CoreError {
    let max_mib = PHOTO_BYTES_MAX / 1024 / 1024;
    CoreError::invalid(
        "photo",
        Refusal::PhotoTooLarge,
        format!("larger than {max_mib} MiB"),
    )
    .with("max_mib", max_mib)
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
