//! One error type for everything a command can answer with.
//!
//! `code()` is the kind of failure (`invalid`, `conflict`, `not_found`, …) and is stable.
//! An `invalid` input or a `conflict` with the stored state also carries a [`Refusal`]:
//! a stable snake_case reason (`card_taken`, `too_short`, …) with the values a sentence
//! about it needs (`holder`, `min`, …), so the UI's message catalogue can say in Russian
//! exactly what went wrong. The `Display` text is English, for logs and for people
//! reading them.

use crate::domain::Role;
use std::collections::BTreeMap;
use thiserror::Error;

pub type CoreResult<T> = Result<T, CoreError>;

/// The values a refusal's sentence needs, by name: `{"holder": "Иванов Иван", "state": "lost"}`.
pub type Params = BTreeMap<&'static str, String>;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("sign in first")]
    NotSignedIn,
    #[error("this needs one of the roles {needed:?}")]
    Forbidden { needed: Vec<Role> },
    #[error("wrong login or password")]
    WrongCredentials,
    #[error("the account is locked until {until}")]
    AccountLocked {
        until: chrono::DateTime<chrono::Utc>,
    },
    /// An input the command cannot take: `field` names it as the command's JSON does.
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        reason: Refusal,
        params: Params,
        message: String,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    /// A valid input that the stored state does not allow (the class exists, the card is
    /// someone else's, …).
    #[error("{message}")]
    Conflict {
        reason: Refusal,
        params: Params,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, reason: Refusal, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            field: field.into(),
            reason,
            params: Params::new(),
            message: message.into(),
        }
    }

    pub fn conflict(reason: Refusal, message: impl Into<String>) -> Self {
        CoreError::Conflict {
            reason,
            params: Params::new(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        CoreError::NotFound { what: what.into() }
    }

    /// Adds a value the refusal's sentence needs. Only `Invalid` and `Conflict` carry
    /// values; on any other error this does nothing.
    pub fn with(mut self, key: &'static str, value: impl ToString) -> Self {
        if let CoreError::Invalid { params, .. } | CoreError::Conflict { params, .. } = &mut self {
            params.insert(key, value.to_string());
        }
        self
    }

    /// A stable code for the UI's message catalogue: the kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotSignedIn => "not_signed_in",
            CoreError::Forbidden { .. } => "forbidden",
            CoreError::WrongCredentials => "wrong_credentials",
            CoreError::AccountLocked { .. } => "account_locked",
            CoreError::Invalid { .. } => "invalid",
            CoreError::NotFound { .. } => "not_found",
            CoreError::Conflict { .. } => "conflict",
            CoreError::Store(StoreError::NewerSchema { .. }) => "newer_schema",
            CoreError::Store(StoreError::NotOurs { .. }) => "not_ours",
            CoreError::Store(_) => "store",
        }
    }

    /// Why an input was refused or a command conflicts with the state (`Invalid` and
    /// `Conflict` only).
    pub fn reason(&self) -> Option<Refusal> {
        match self {
            CoreError::Invalid { reason, .. } | CoreError::Conflict { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The values the reason's sentence needs (empty for other errors).
    pub fn params(&self) -> Option<&Params> {
        match self {
            CoreError::Invalid { params, .. } | CoreError::Conflict { params, .. } => Some(params),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(e: rusqlite::Error) -> Self {
        CoreError::Store(StoreError::Sqlite(e))
    }
}

macro_rules! refusals {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)+) => {
        /// Why an input was refused or a command conflicts with the stored state. The
        /// codes are stable: the UI's catalogues (`ui/src/i18n/{ru,en}.ts`) have a
        /// sentence for each, keyed `refusal.<code>`, which may use the error's params.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Refusal {
            $($(#[$doc])* $variant,)+
        }

        impl Refusal {
            /// Every refusal, for tests that check each one has a sentence.
            pub const ALL: &'static [Refusal] = &[$(Refusal::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Refusal::$variant => $code,)+
                }
            }
        }
    };
}

refusals! {
    // Typed values. Params name the value (`value`) or the bound (`min`, `max`).
    /// A required value is blank.
    Empty = "empty",
    /// Shorter than `min` characters.
    TooShort = "too_short",
    /// Longer than `max` characters.
    TooLong = "too_long",
    /// A name holds characters a name cannot have (`chars`).
    BadCharacters = "bad_characters",
    /// `value` is not a date (`2014-03-25` or `25.03.2014`).
    NotADate = "not_a_date",
    /// `value` is not an e-mail address.
    NotAnEmail = "not_an_email",
    /// `value` is not a phone number (5–15 digits; spaces, `+ - ( )` allowed).
    NotAPhone = "not_a_phone",
    /// A login must be `min`–`max` Latin letters, digits, `. _ -`.
    BadLogin = "bad_login",
    /// A PIN must be `min`–`max` digits.
    BadPin = "bad_pin",
    /// `value` is not a class name (a grade 1–11 and one Cyrillic letter).
    BadClassName = "bad_class_name",
    /// `value` is not an IANA time zone.
    BadTimeZone = "bad_time_zone",
    /// `value` cannot be read as a card number (`detail`: the parser's words).
    BadCard = "bad_card",
    /// Not a JPEG, PNG, WebP or SVG picture.
    BadPhoto = "bad_photo",
    /// A photo larger than `max_mib` MiB.
    PhotoTooLarge = "photo_too_large",
    /// More than `max` items asked for at once.
    TooMany = "too_many",
    /// The person is not a `expected` (pupil, guardian, staff).
    WrongPersonKind = "wrong_person_kind",
    // Files (roster, photos). `path` names the file or folder.
    /// The file or folder cannot be read (`detail`: the system's words).
    CannotReadFile = "cannot_read_file",
    /// A file larger than `max_mib` MiB.
    FileTooLarge = "file_too_large",
    /// Neither a folder nor a ZIP archive.
    NotFolderOrZip = "not_folder_or_zip",
    DamagedZip = "damaged_zip",
    /// More than `max` files: import in parts.
    TooManyFiles = "too_many_files",
    /// The photos add up to more than `max_mib` MiB: import in parts.
    TooManyBytes = "too_many_bytes",
    /// The roster file as a whole is unusable: `issue` is the roster's own code
    /// (`missing_column`, …), `column` the column concerned if any.
    RosterBadFile = "roster_bad_file",
    /// `error_rows` of `rows` rows have errors; the first is row `first_row`, column
    /// `first_column`, roster code `first_issue`.
    RosterHasErrors = "roster_has_errors",
    /// The catalogue file as a whole is unusable: `issue` is the import's own code
    /// (`unreadable`, `missing_column`, …).
    CatalogueBadFile = "catalogue_bad_file",
    /// `error_records` of `records` records have errors; the first is record
    /// `first_record`, field `first_field`, import code `first_issue`.
    CatalogueHasErrors = "catalogue_has_errors",
    // Conflicts with the stored state.
    /// The school already has an admin: sign in instead of setting it up.
    AlreadySetUp = "already_set_up",
    /// The database holds people or classes but no school (the demo goes only into an
    /// empty one).
    DatabaseNotEmpty = "database_not_empty",
    /// The class `name` exists already.
    ClassExists = "class_exists",
    /// The class still has `pupils` pupils.
    ClassNotEmpty = "class_not_empty",
    /// The login `login` is someone else's.
    LoginTaken = "login_taken",
    /// The school's own id `value` is someone else's.
    ExternalIdTaken = "external_id_taken",
    /// The card belongs to `holder` (in state `state`): mark it returned first.
    CardTaken = "card_taken",
    /// The card is already this person's active card.
    CardAlreadyBound = "card_already_bound",
    /// The person has left the school.
    PersonLeft = "person_left",
    /// The card is already `state`.
    CardStateUnchanged = "card_state_unchanged",
    /// A returned card becomes active again by binding it to someone.
    CardReturnedNeedsBinding = "card_returned_needs_binding",
    /// An admin cannot take the admin role from themselves.
    CannotDemoteSelf = "cannot_demote_self",
    /// A staff member cannot suspend or dismiss themselves.
    CannotSuspendSelf = "cannot_suspend_self",
    /// The roster file changed since it was previewed: preview it again.
    RosterChangedSincePreview = "roster_changed_since_preview",
    /// The catalogue file changed since it was previewed: preview it again.
    CatalogueChangedSincePreview = "catalogue_changed_since_preview",
    // Devices (readers and gates of this workstation).
    /// `value` is outside `min`–`max`.
    OutOfRange = "out_of_range",
    /// The serial speed `value` is not one of `allowed`.
    BadBaudRate = "bad_baud_rate",
    /// The line pattern is not a regular expression (`detail`: the parser's words).
    BadPattern = "bad_pattern",
    /// The line pattern has no group named `hex`, `dec`, or `fac` and `num`.
    PatternWithoutCard = "pattern_without_card",
    /// `value` is not an `http://` or `https://` address.
    BadUrl = "bad_url",
    /// Entry and exit are wired to the same relay channel.
    SameRelayChannel = "same_relay_channel",
    /// The chosen gate is not a gate of this workstation.
    NotAGate = "not_a_gate",
    /// Another device of this workstation is named `name`.
    DeviceNameTaken = "device_name_taken",
    /// The port `port` is used by the device `name`.
    DevicePortTaken = "device_port_taken",
    /// OSDP address `address` on this line is the reader `name`'s.
    OsdpAddressTaken = "osdp_address_taken",
    /// No cashier's shift is open at this till.
    NoOpenShift = "no_open_shift",
    /// The pupil has this complex pre-ordered for `date` already.
    AlreadyPreOrdered = "already_pre_ordered",
    /// `value` is not an address and port to listen on (`0.0.0.0:8787`, `127.0.0.1:8787`).
    BadListenAddress = "bad_listen_address",
    /// The vending machines of a workstation share one address; `name` listens on `listen`.
    VendingListenDiffers = "vending_listen_differs",
    /// A vending machine's key digest is not 64 hex digits (a key made by the app).
    BadKeyDigest = "bad_key_digest",
    /// The gate is opened by the readers `readers`: choose another gate for them first.
    GateInUse = "gate_in_use",
    // The guard's post.
    /// A denial for `reason` (a card's or a person's status) cannot be overridden.
    NotOverridable = "not_overridable",
    /// A time that must lie ahead (a pass's end) lies in the past.
    NotInFuture = "not_in_future",
    /// A roll-call (`roll_call_id`) is running already: finish it first.
    RollCallRunning = "roll_call_running",
    /// The roll-call is over.
    RollCallEnded = "roll_call_ended",
    /// The visitor's pass is closed already.
    PassClosed = "pass_closed",
    /// The access rules have a problem: `problem` (the check's code) at `at` (a path
    /// like `bells.first_shift.lessons[3]`).
    BadAccessRules = "bad_access_rules",
    // The canteen.
    /// The benefit grant is revoked already.
    AlreadyRevoked = "already_revoked",
    /// Only a parents' complex of the pupil's grade is ordered in advance.
    NotOrderable = "not_orderable",
    /// The order of `date` is made (or the day is past): pre-orders no longer change.
    OrderClosed = "order_closed",
    /// The balance (`balance`) does not cover `price`.
    InsufficientBalance = "insufficient_balance",
    /// The day's meal order is made at the cut-off (`cut_off`), not before.
    BeforeCutOff = "before_cut_off",
    /// The meal order of `date` is not made yet.
    NoMealOrder = "no_meal_order",
    /// The pupil is already on (or already off) the order for that complex.
    OrderUnchanged = "order_unchanged",
    /// The sale is refunded already.
    AlreadyRefunded = "already_refunded",
    // The library. `barcode` names the copy concerned.
    /// `value` is not an ISBN (`detail`: what is wrong with it).
    BadIsbn = "bad_isbn",
    /// The inventory barcode `barcode` is another copy's.
    BarcodeTaken = "barcode_taken",
    /// No copy has the barcode `barcode`.
    CopyNotFound = "copy_not_found",
    /// The copy `barcode` is not on the shelf (`copy_state`: on loan, lost, written off).
    CopyNotOnShelf = "copy_not_on_shelf",
    /// The copy `barcode` is a reference book: read in the library, never lent.
    NotLendable = "not_lendable",
    /// The loan was renewed `max` times already: the book comes back to the desk.
    RenewLimit = "renew_limit",
    /// The reader is younger than the age mark `mark` of `barcode` (`age`: their age).
    AgeMark = "age_mark",
    /// The reader (or the card they came with) is not active (`state`).
    ReaderBlocked = "reader_blocked",
    /// The copy `barcode` is not on loan: there is nothing to return.
    CopyNotOnLoan = "copy_not_on_loan",
    /// The copy `barcode` is on loan: it is returned at the desk first.
    CopyOnLoan = "copy_on_loan",
    /// The copy `barcode` is already `copy_state`.
    CopyStateUnchanged = "copy_state_unchanged",
    /// The reader holds `max` books already (textbooks aside): one comes back first.
    BooksLimit = "books_limit",
    /// The reader has `overdue` books past their due date: they come back before another
    /// is lent (textbooks are still handed out).
    HasOverdue = "has_overdue",
    /// The stocktake is closed (`closed_at`): it takes no more scans.
    StocktakeClosed = "stocktake_closed",
    // The central server.
    /// `value` is not a server address (`https://…` or `http://…`).
    BadServerUrl = "bad_server_url",
    /// The server at `url` cannot be reached (`detail`: the network's words).
    ServerUnreachable = "server_unreachable",
    /// The server refused (`detail`: its words, e.g. an expired enrolment code).
    ServerRefused = "server_refused",
    // Backups (`crate::backup`). `file` names the backup.
    /// The file is not an SQLite database at all.
    BackupNotADatabase = "backup_not_a_database",
    /// The file fails SQLite's integrity check (or a fresh copy failed it).
    BackupDamaged = "backup_damaged",
    /// A restore on a workstation enrolled with the server: its own events after the
    /// backup are on the server, and the numbers it would give new ones clash with them.
    RestoreWhileEnrolled = "restore_while_enrolled",
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "this database was written by a newer version of the program (schema {found}, \
         this program knows up to {supported}); install the newer version — the file was not changed"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("{path} is not a school card database (application id {found:#x})")]
    NotOurs { path: String, found: i64 },
    #[error("journal row {seq}: {message}")]
    CorruptEvent { seq: i64, message: String },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in Refusal::ALL {
            let code = r.as_str();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert!(seen.insert(code), "{code} twice");
        }
    }

    #[test]
    fn params_ride_on_invalid_and_conflict_only() {
        let e = CoreError::conflict(Refusal::CardTaken, "the card belongs to X")
            .with("holder", "Иванов Иван");
        assert_eq!(e.code(), "conflict");
        assert_eq!(e.reason(), Some(Refusal::CardTaken));
        assert_eq!(e.params().unwrap()["holder"], "Иванов Иван");
        assert_eq!(e.to_string(), "the card belongs to X");

        let e = CoreError::invalid("password", Refusal::TooShort, "at least 8 characters")
            .with("min", 8);
        assert_eq!(e.to_string(), "password: at least 8 characters");
        assert_eq!(e.params().unwrap()["min"], "8");

        let e = CoreError::NotSignedIn.with("x", 1);
        assert_eq!((e.reason(), e.params()), (None, None));
    }
}
