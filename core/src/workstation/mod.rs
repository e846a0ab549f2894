//! `Workstation`: the one door through which the desktop shell reaches the core.
//!
//! Every command is authorized here, by `access()` (an exhaustive match: a new command
//! cannot be added without saying who may run it), before it touches the store. Hiding a
//! button in the UI is a courtesy; this is the rule.
//!
//! This file holds the door itself: `Command`, `Access`, `Workstation::execute` and
//! `authorize`. The handlers behind it are `impl Workstation` blocks, one file per screen:
//! - `sign_in`: first run (the school and its first admin), sign-in, sign-out, accounts;
//! - `school`: the school's name and time zone (and, for the demo school, its accounts),
//!   its summary, classes;
//! - `people`: search, the person card (with the cards they held before), enrolment,
//!   moves, status, photos (one, from a file, or a list's at once), guardians;
//! - `cards`: binding a card, its state, who holds a presented card;
//! - `staff`: staff members, their roles, passwords, PINs and locks;
//! - `devices`: this workstation's readers and gates (`crate::peripherals`);
//! - `security`: the guard's post on screen — the access rules, who is inside, the
//!   day's counters and last passages, attendance and its corrections;
//! - `visitors`: visitors' passes on visitor cards;
//! - `roll_call`: the roll-call at the assembly point;
//! - `canteen`: the canteen (СОП) — catalogue, menus, benefits, parents' bans and
//!   limits, pre-orders, balances, the day's meal order, the till, the meals report;
//! - `library`: the library desk — the catalogue (titles, copies), lending by card,
//!   returns, renewals, lost and written-off copies, a reader's loans, the overdue list,
//!   a class's loans;
//! - `stocktake`: the library's stocktaking (инвентаризация) — start, scan the shelves
//!   in batches, the report (missing, misplaced, anomalies, unknown barcodes), close;
//! - `dashboard`: the director's home screen — today's attendance and who is inside, the
//!   meals and their saving, the buffet, the library, the guard post's exceptions, the
//!   attendance trend and the sales by day, in one answer;
//! - `backups`: backups of the database — listed, made now, previewed, restored;
//! - `journal_view`: the journal's check and its pages (secrets' hashes blanked out);
//! - `checks`: input validation shared with the roster import; every refusal carries a
//!   `Refusal` code and the values its sentence needs (`crate::error`).

mod backups;
mod canteen;
mod cards;
mod checks;
mod dashboard;
mod devices;
mod journal_view;
mod library;
mod people;
mod roll_call;
mod school;
pub(crate) mod security;
mod sign_in;
mod staff;
mod stocktake;
mod sync;
#[cfg(test)]
mod tests;
mod visitors;

pub use canteen::{TillWho, VendingRefusal};
pub use cards::CardHolder;
pub use library::{CopyMark, ReaderWho, TitleInput};
/// The catalogue's bounds, shared with the catalogue import (`crate::library::import`).
pub(crate) use library::{
    AUTHORS_MAX, AUTHOR_LEN_MAX_CHARS, BARCODE_LEN_MAX_CHARS, BOOK_TEXT_LEN_MAX_CHARS,
    BOOK_YEAR_MAX, BOOK_YEAR_MIN, LOCATION_LEN_MAX_CHARS,
};
// Outside this module only the demo's tests call it; the path stays for them.
use crate::peripherals::{Direction, PeripheralId, PeripheralSpec};
#[allow(unused_imports)]
pub(crate) use cards::find_card_holder;
pub use checks::parse_date;
pub(crate) use checks::{
    cannot_read, check_card, check_details, check_login, check_name, check_password, check_photo,
    check_pin, check_title, photo_too_large, sniff_image,
};
pub use people::PersonSummary;
pub(crate) use security::stored_access_rules;
pub use security::PersonInside;

/// Longest note the guard writes on a passage without a card.
pub const PASSAGE_NOTE_LEN_MAX_CHARS: usize = 200;

/// The guard's note on a passage without a card: 1 to
/// [`PASSAGE_NOTE_LEN_MAX_CHARS`] characters.
pub fn check_note(note: &str) -> CoreResult<String> {
    check_title("note", note, PASSAGE_NOTE_LEN_MAX_CHARS)
}
pub(crate) use staff::append_staff;

use crate::auth::Session;
use crate::domain::{CardState, ClassId, PersonId, PersonKind, PersonStatus, Role};
use crate::error::{CoreError, CoreResult};
use crate::store::Store;
use chrono::{DateTime, Utc};
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Results of a search are capped: a list longer than a screen is not read by anyone.
pub const SEARCH_RESULTS_MAX: u32 = 200;
/// A photo larger than this is refused: a passport photo is a few hundred KiB.
pub const PHOTO_BYTES_MAX: usize = 5 * 1024 * 1024;
pub const SCHOOL_NAME_LEN_MAX_CHARS: usize = 200;
pub const JOURNAL_PAGE_MAX: u32 = 500;
/// Cards listed on a person's card, held and given back. A pupil loses a few cards in
/// eleven years; a list this long means something else is wrong, and is cut.
pub const PERSON_CARDS_LISTED_MAX: u32 = 100;
/// Demo accounts the sign-in screen lists: the generated school has ten; an admin who
/// adds hundreds of staff to the demo does not get a sign-in screen that scrolls forever.
pub const DEMO_ACCOUNTS_LISTED_MAX: usize = 20;
/// What the journal's pages show instead of a secret's hash (`password_hash`, `pin_hash`).
pub const REDACTED: &str = "•••";

/// Long work reports how far it got (roster import, photo import, demo generation).
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

/// Everything a workstation user can ask for. Arrives from the UI as JSON
/// (`{"type": "sign_in_password", ...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// First run of a fresh database: the school and its first admin. Refused once any
    /// staff account exists.
    SetUpSchool {
        school_name: String,
        time_zone: String,
        admin_name: NameInput,
        login: String,
        password: String,
    },
    SignInPassword {
        login: String,
        password: String,
    },
    SignInCard {
        card: String,
        pin: String,
    },
    SignOut,
    WhoAmI,
    ChangeOwnPassword {
        old_password: String,
        new_password: String,
    },

    GetSchool,
    ConfigureSchool {
        name: String,
        time_zone: String,
    },
    SchoolSummary,

    ListClasses,
    CreateClass {
        name: String,
    },
    RenameClass {
        class_id: ClassId,
        name: String,
    },
    ArchiveClass {
        class_id: ClassId,
    },

    SearchPeople {
        #[serde(default)]
        query: String,
        #[serde(default)]
        kind: Option<PersonKind>,
        #[serde(default)]
        class_id: Option<ClassId>,
        #[serde(default)]
        include_left: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    GetPerson {
        person_id: PersonId,
    },
    /// The photos of a list's people in one answer (`{"<id>": "data:…"}`, only those that
    /// have one); at most `SEARCH_RESULTS_MAX` ids.
    GetPhotos {
        person_ids: Vec<PersonId>,
    },
    LookupCard {
        card: String,
    },
    EnrolPupil {
        name: NameInput,
        class_id: ClassId,
        #[serde(default)]
        details: DetailsInput,
    },
    EnrolGuardian {
        pupil_id: PersonId,
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
        #[serde(default)]
        relation: String,
    },
    UpdatePerson {
        person_id: PersonId,
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
    },
    MovePupil {
        person_id: PersonId,
        class_id: ClassId,
    },
    SetPersonStatus {
        person_id: PersonId,
        status: PersonStatus,
        #[serde(default)]
        reason: String,
    },
    SetPhoto {
        person_id: PersonId,
        mime: String,
        base64: String,
    },
    /// A photo from a file the admin picked: read (at most `PHOTO_BYTES_MAX`) and checked
    /// here, so the picture's bytes never travel through the web view.
    SetPhotoFromFile {
        person_id: PersonId,
        path: PathBuf,
    },
    LinkGuardian {
        guardian_id: PersonId,
        pupil_id: PersonId,
        #[serde(default)]
        relation: String,
    },
    UnlinkGuardian {
        guardian_id: PersonId,
        pupil_id: PersonId,
    },

    BindCard {
        person_id: PersonId,
        card: String,
    },
    SetCardState {
        card: String,
        state: CardState,
        #[serde(default)]
        reason: String,
    },

    ListStaff,
    EnrolStaff {
        name: NameInput,
        #[serde(default)]
        details: DetailsInput,
        login: String,
        roles: Vec<Role>,
        password: String,
    },
    SetStaffRoles {
        person_id: PersonId,
        roles: Vec<Role>,
    },
    SetStaffPassword {
        person_id: PersonId,
        password: String,
    },
    SetStaffPin {
        person_id: PersonId,
        pin: String,
    },
    UnlockAccount {
        person_id: PersonId,
    },

    PreviewRoster {
        path: PathBuf,
    },
    CommitRoster {
        path: PathBuf,
        /// The preview's `sha256`: a file that changed since is refused, nothing written.
        #[serde(default)]
        expected_sha256: Option<String>,
    },
    ImportPhotos {
        path: PathBuf,
    },

    /// Where this workstation stands with the central server (standalone, online,
    /// pending events, last sync).
    SyncStatus,
    /// Concurrent edits settled by server order, newest first.
    SyncConflicts {
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Enrols this workstation with the central server by a one-time code.
    ConnectServer {
        server_url: String,
        code: String,
        /// What the server's device list calls this post.
        #[serde(default)]
        name: String,
    },
    /// Stops syncing; the workstation goes on standalone with what it holds.
    DisconnectServer,

    VerifyJournal,
    JournalPage {
        #[serde(default)]
        before_seq: Option<i64>,
        #[serde(default)]
        limit: Option<u32>,
    },

    /// The backups in `backups/` beside the database, newest first.
    ListBackups,
    /// A backup made now (`manual`).
    MakeBackup,
    /// What the backup `file` (a name from the list) holds.
    PreviewBackup {
        file: String,
    },
    /// Restores the database from the backup `file`, keeping the current one as a
    /// `before-restore` backup first.
    RestoreBackup {
        file: String,
    },

    /// This workstation's readers and gates.
    ListDevices,
    /// This workstation's post and name (the first-run wizard's second step).
    SetWorkstationPost {
        post: crate::peripherals::Post,
        name: String,
    },
    /// Configures a reader or gate: a new one without `device_id`.
    SaveDevice {
        #[serde(default)]
        device_id: Option<PeripheralId>,
        device: PeripheralSpec,
    },
    RemoveDevice {
        device_id: PeripheralId,
    },
    /// Records that the signed-in person ends an emergency unlock; the shell then locks
    /// every gate again.
    EndEmergency,

    /// The access rules in force (the defaults until an admin configures them).
    GetAccessRules,
    ConfigureAccessRules {
        rules: Box<crate::access::AccessRules>,
    },
    /// The guard's counters and last passages.
    GuardSummary,
    /// Everyone inside now, grouped by class, staff, guardians, visitors.
    InsideNow,
    /// A day's attendance by class (today by default); one class's pupils if asked.
    DayAttendance {
        #[serde(default)]
        date: Option<String>,
        #[serde(default)]
        class_id: Option<ClassId>,
    },
    CorrectAttendance {
        person_id: PersonId,
        date: String,
        mark: crate::access::CorrectedMark,
        reason: String,
    },

    /// The day's exceptions for the director (today by default): passages without a
    /// card, overrides, the guard's denials, anomalies.
    ExceptionsReport {
        #[serde(default)]
        date: Option<String>,
    },

    /// The director's home screen in one answer: today's attendance by class, inside
    /// now, meals and their saving (today, month to date), the buffet, the library, the
    /// guard post's exceptions, the attendance trend and the sales by day.
    DirectorDashboard,

    /// A roll-call of everyone inside, at the assembly point.
    StartRollCall,
    MarkRollCall {
        roll_call_id: uuid::Uuid,
        person_id: PersonId,
        #[serde(default = "yes")]
        present: bool,
    },
    EndRollCall {
        roll_call_id: uuid::Uuid,
    },
    /// The running roll-call (or the one asked for); `null` when none runs.
    RollCallState {
        #[serde(default)]
        roll_call_id: Option<uuid::Uuid>,
    },

    /// A visitor let in on a visitor card from the guard's stack.
    IssueVisitorPass {
        name: NameInput,
        document: String,
        visiting: String,
        card: String,
        /// Until the end of the school day when not given.
        #[serde(default)]
        valid_until: Option<DateTime<Utc>>,
    },
    CloseVisitorPass {
        pass_id: uuid::Uuid,
    },
    /// Visitors' open passes (and closed ones too, if asked), newest first.
    ListVisitors {
        #[serde(default)]
        include_closed: bool,
    },
    /// Records that the signed-in person opens a gate by hand; the shell then opens it.
    OpenGate {
        device_id: PeripheralId,
        direction: Direction,
    },

    // The canteen (СОП): `canteen.rs`.
    /// Settings, products, complexes and benefit categories.
    CanteenCatalogue,
    /// The buffet's menu of a day (today by default).
    DayMenu {
        #[serde(default)]
        date: Option<String>,
    },
    ConfigureCanteen {
        settings: crate::canteen::CanteenSettings,
    },
    /// A new product without `product_id`.
    SaveProduct {
        #[serde(default)]
        product_id: Option<crate::canteen::ProductId>,
        name: String,
        price: crate::money::Kopecks,
        category: String,
        #[serde(default)]
        allergens: Vec<String>,
    },
    /// A new complex without `complex_id`.
    SaveComplex {
        #[serde(default)]
        complex_id: Option<crate::canteen::ComplexId>,
        name: String,
        meal: crate::canteen::MealKind,
        grades: crate::access::GradeBand,
        price: crate::money::Kopecks,
        payer: crate::canteen::Payer,
    },
    SetDayMenu {
        #[serde(default)]
        date: Option<String>,
        items: Vec<crate::canteen::MenuItem>,
    },
    /// A day's menu from the supplier's file; `dry_run` only checks it.
    ImportDayMenu {
        path: PathBuf,
        #[serde(default)]
        date: Option<String>,
        #[serde(default)]
        dry_run: bool,
    },
    SaveBenefitCategory {
        #[serde(default)]
        category_id: Option<crate::canteen::BenefitCategoryId>,
        name: String,
        meals: Vec<crate::canteen::MealKind>,
    },
    GrantBenefit {
        person_id: PersonId,
        category_id: crate::canteen::BenefitCategoryId,
        valid_from: String,
        valid_to: String,
        document: String,
    },
    RevokeBenefit {
        grant_id: uuid::Uuid,
        reason: String,
    },
    /// A pupil's canteen record: balance, limit, bans, grants, pre-orders.
    PupilCanteen {
        person_id: PersonId,
    },
    SetCanteenBan {
        person_id: PersonId,
        target: crate::canteen::BanTarget,
        #[serde(default)]
        hours: Option<crate::canteen::BanHours>,
    },
    LiftCanteenBan {
        person_id: PersonId,
        ban_id: uuid::Uuid,
    },
    SetDailyLimit {
        person_id: PersonId,
        #[serde(default)]
        limit: Option<crate::money::Kopecks>,
    },
    PlacePreOrder {
        person_id: PersonId,
        complex_id: crate::canteen::ComplexId,
        date: String,
    },
    CancelPreOrder {
        pre_order_id: uuid::Uuid,
        reason: String,
    },
    TopUpBalance {
        person_id: PersonId,
        amount: crate::money::Kopecks,
        #[serde(default)]
        note: String,
    },
    CorrectBalance {
        person_id: PersonId,
        amount: crate::money::Kopecks,
        reason: String,
    },
    /// The day's meal order at the cut-off (made once; asked again, it is shown).
    MakeMealOrder {
        #[serde(default)]
        date: Option<String>,
    },
    /// What the order would be if made now.
    MealOrderForecast {
        #[serde(default)]
        date: Option<String>,
    },
    /// The supplier's order sheet of a day (the forecast before the cut-off).
    MealOrderSheet {
        #[serde(default)]
        date: Option<String>,
    },
    /// Entitled pupils who came in after the cut-off join the order.
    AddLateArrivals {
        #[serde(default)]
        date: Option<String>,
    },
    AdjustMealOrder {
        date: String,
        person_id: PersonId,
        complex_id: crate::canteen::ComplexId,
        added: bool,
        reason: String,
    },
    /// Who is at the till (by card or picked), their entitlements and money today.
    TillPupil {
        #[serde(flatten)]
        who: canteen::TillWho,
    },
    ServeMeal {
        /// The till's own id for this serving: a retry is recognised.
        meal_id: uuid::Uuid,
        #[serde(flatten)]
        who: canteen::TillWho,
        complex_id: crate::canteen::ComplexId,
        /// A cashier's override of a refusal, with the reason.
        #[serde(default)]
        override_reason: Option<String>,
    },
    SellBasket {
        /// The till's own id for this sale: a retry is never charged twice.
        sale_id: uuid::Uuid,
        #[serde(flatten)]
        who: canteen::TillWho,
        basket: Vec<crate::canteen::BasketLine>,
    },
    RefundSale {
        sale_id: uuid::Uuid,
        reason: String,
    },
    /// Opens the cashier's shift at this till (the open one, if there is one).
    OpenShift,
    /// Closes this till's open shift; its report is the answer.
    CloseShift,
    /// A shift's report (this till's open or last one without `shift_id`): sales by
    /// category, free meals by complex, refunds, overrides, from opening to closing.
    ShiftReport {
        #[serde(default)]
        shift_id: Option<uuid::Uuid>,
    },
    /// What a sale's receipt says: the school, the pupil, the lines, the balance now.
    SaleReceipt {
        sale_id: uuid::Uuid,
    },
    /// A class's pupils on today's order and who has eaten.
    ServeClass {
        class_id: ClassId,
    },
    /// Entitled, ordered, served and saved over a period, with the buffet's takings.
    MealsReport {
        from: String,
        to: String,
    },

    // The library (Библиотека): `library.rs`.
    /// A title of the catalogue: a new one without `title_id`.
    SaveBookTitle {
        #[serde(default)]
        title_id: Option<crate::library::TitleId>,
        #[serde(flatten)]
        title: library::TitleInput,
    },
    /// A copy of a title put on the shelf under its inventory barcode.
    AddBookCopy {
        title_id: crate::library::TitleId,
        barcode: String,
        #[serde(default)]
        location: String,
        item_type: crate::library::ItemType,
    },
    /// Titles by title, author, ISBN or a copy's barcode, with their copies' states.
    SearchCatalogue {
        #[serde(default)]
        query: String,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Lends copies to a reader (by card or picked): all of them or none.
    IssueBooks {
        #[serde(flatten)]
        who: library::ReaderWho,
        barcodes: Vec<String>,
    },
    /// A copy back at the desk, with a note on its condition.
    ReturnBook {
        barcode: String,
        #[serde(default)]
        note: String,
    },
    RenewLoan {
        loan_id: crate::library::LoanId,
    },
    /// A copy marked lost or written off, or back on the shelf (found).
    MarkCopy {
        barcode: String,
        state: library::CopyMark,
        #[serde(default)]
        note: String,
    },
    /// A reader's loans: current and history.
    ReaderLoans {
        person_id: PersonId,
    },
    /// Open loans past their due date, by class (one class if asked).
    OverdueList {
        #[serde(default)]
        class_id: Option<ClassId>,
    },
    /// Reminds the readers (and, through the server, parents) of overdue books.
    SendOverdueNotices {
        #[serde(default)]
        class_id: Option<ClassId>,
    },
    /// A class's pupils with their open loans, and per title how many hold a copy.
    ClassLoans {
        class_id: ClassId,
    },
    // Stocktaking (Инвентаризация): `stocktake.rs`.
    /// Starts a stocktake of one shelf or room (`location`), or of the whole library.
    StartStocktake {
        #[serde(default)]
        location: String,
    },
    /// A batch of barcodes scanned on the shelf `location`.
    StocktakeScan {
        stocktake_id: crate::library::StocktakeId,
        #[serde(default)]
        location: String,
        barcodes: Vec<String>,
    },
    /// Missing, misplaced, anomalous and unknown copies of a stocktake, as of now.
    StocktakeReport {
        stocktake_id: crate::library::StocktakeId,
    },
    CloseStocktake {
        stocktake_id: crate::library::StocktakeId,
    },
    /// Stocktakes not closed yet.
    OpenStocktakes,
    /// What importing a catalogue file (MARC or a table) would add; writes nothing.
    PreviewCatalogue {
        path: PathBuf,
        /// The item type of copies whose record does not name one (MARC records never
        /// do); `other` when not given.
        #[serde(default)]
        item_type: Option<crate::library::ItemType>,
    },
    /// Imports the catalogue file: all of it or, if any record is bad, nothing.
    CommitCatalogue {
        path: PathBuf,
        /// The preview's `sha256`: a file that changed since is refused, nothing written.
        #[serde(default)]
        expected_sha256: Option<String>,
        /// As previewed.
        #[serde(default)]
        item_type: Option<crate::library::ItemType>,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NameInput {
    pub surname: String,
    pub name: String,
    #[serde(default)]
    pub patronymic: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DetailsInput {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
}

fn yes() -> bool {
    true
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Before sign-in: the sign-in itself and what the sign-in screen shows.
    Public,
    /// Any signed-in staff member.
    SignedIn,
    /// Only holders of one of these roles.
    Roles(&'static [Role]),
}

const ADMIN: &[Role] = &[Role::Admin];
const ADMIN_DIRECTOR: &[Role] = &[Role::Admin, Role::Director];
/// Who answers for a gate: opens it by hand, ends an emergency, confirms a card.
pub const GUARD_ADMIN: &[Role] = &[Role::Guard, Role::Admin];
const GUARD_ADMIN_DIRECTOR: &[Role] = &[Role::Guard, Role::Admin, Role::Director];
/// Who works the canteen's till.
const CASHIER_ADMIN: &[Role] = &[Role::Cashier, Role::Admin];
const CASHIER_ADMIN_DIRECTOR: &[Role] = &[Role::Cashier, Role::Admin, Role::Director];
/// Who works the library desk; the director reads its lists.
const LIBRARIAN_ADMIN: &[Role] = &[Role::Librarian, Role::Admin];
const LIBRARIAN_ADMIN_DIRECTOR: &[Role] = &[Role::Librarian, Role::Admin, Role::Director];

impl Command {
    pub fn access(&self) -> Access {
        use Command::*;
        match self {
            SetUpSchool { .. } | SignInPassword { .. } | SignInCard { .. } | WhoAmI | GetSchool => {
                Access::Public
            }
            SignOut
            | ChangeOwnPassword { .. }
            | ListClasses
            | SearchPeople { .. }
            | GetPerson { .. }
            | GetPhotos { .. }
            | LookupCard { .. }
            | ListDevices
            | SyncStatus => Access::SignedIn,
            SyncConflicts { .. } => Access::Roles(ADMIN_DIRECTOR),
            ConnectServer { .. } | DisconnectServer | SetWorkstationPost { .. } => {
                Access::Roles(ADMIN)
            }
            ListBackups | MakeBackup | PreviewBackup { .. } | RestoreBackup { .. } => {
                Access::Roles(ADMIN)
            }
            SchoolSummary | ListStaff | VerifyJournal | JournalPage { .. } => {
                Access::Roles(ADMIN_DIRECTOR)
            }
            ConfigureSchool { .. }
            | CreateClass { .. }
            | RenameClass { .. }
            | ArchiveClass { .. }
            | EnrolPupil { .. }
            | EnrolGuardian { .. }
            | UpdatePerson { .. }
            | MovePupil { .. }
            | SetPersonStatus { .. }
            | SetPhoto { .. }
            | SetPhotoFromFile { .. }
            | LinkGuardian { .. }
            | UnlinkGuardian { .. }
            | BindCard { .. }
            | SetCardState { .. }
            | EnrolStaff { .. }
            | SetStaffRoles { .. }
            | SetStaffPassword { .. }
            | SetStaffPin { .. }
            | UnlockAccount { .. }
            | PreviewRoster { .. }
            | CommitRoster { .. }
            | ImportPhotos { .. }
            | SaveDevice { .. }
            | RemoveDevice { .. } => Access::Roles(ADMIN),
            OpenGate { .. } | EndEmergency => Access::Roles(GUARD_ADMIN),
            GetAccessRules => Access::SignedIn,
            ConfigureAccessRules { .. } | CorrectAttendance { .. } => Access::Roles(ADMIN),
            GuardSummary | InsideNow | ListVisitors { .. } => Access::Roles(GUARD_ADMIN_DIRECTOR),
            IssueVisitorPass { .. } | CloseVisitorPass { .. } => Access::Roles(GUARD_ADMIN),
            StartRollCall | MarkRollCall { .. } | EndRollCall { .. } => {
                Access::Roles(GUARD_ADMIN_DIRECTOR)
            }
            RollCallState { .. } => Access::Roles(GUARD_ADMIN_DIRECTOR),
            DayAttendance { .. } | ExceptionsReport { .. } | DirectorDashboard => {
                Access::Roles(ADMIN_DIRECTOR)
            }
            CanteenCatalogue | DayMenu { .. } => Access::Roles(CASHIER_ADMIN_DIRECTOR),
            ConfigureCanteen { .. }
            | SaveProduct { .. }
            | SaveComplex { .. }
            | SetDayMenu { .. }
            | ImportDayMenu { .. }
            | SaveBenefitCategory { .. }
            | GrantBenefit { .. }
            | RevokeBenefit { .. }
            | SetCanteenBan { .. }
            | LiftCanteenBan { .. }
            | SetDailyLimit { .. }
            | PlacePreOrder { .. }
            | CancelPreOrder { .. }
            | TopUpBalance { .. }
            | CorrectBalance { .. }
            | AdjustMealOrder { .. } => Access::Roles(ADMIN),
            PupilCanteen { .. } | MealOrderForecast { .. } | MealOrderSheet { .. } => {
                Access::Roles(CASHIER_ADMIN_DIRECTOR)
            }
            MakeMealOrder { .. }
            | AddLateArrivals { .. }
            | TillPupil { .. }
            | ServeMeal { .. }
            | SellBasket { .. }
            | RefundSale { .. }
            | SaleReceipt { .. }
            | OpenShift
            | CloseShift
            | ShiftReport { .. }
            | ServeClass { .. } => Access::Roles(CASHIER_ADMIN),
            MealsReport { .. } => Access::Roles(ADMIN_DIRECTOR),
            SaveBookTitle { .. }
            | AddBookCopy { .. }
            | IssueBooks { .. }
            | ReturnBook { .. }
            | RenewLoan { .. }
            | MarkCopy { .. }
            | SendOverdueNotices { .. }
            | PreviewCatalogue { .. }
            | CommitCatalogue { .. }
            | StartStocktake { .. }
            | StocktakeScan { .. }
            | CloseStocktake { .. } => Access::Roles(LIBRARIAN_ADMIN),
            SearchCatalogue { .. }
            | ReaderLoans { .. }
            | OverdueList { .. }
            | ClassLoans { .. }
            | StocktakeReport { .. }
            | OpenStocktakes => Access::Roles(LIBRARIAN_ADMIN_DIRECTOR),
        }
    }
}

pub struct Workstation {
    store: Store,
    session: Option<Session>,
}

impl Workstation {
    pub fn open(db_path: &Path) -> CoreResult<Workstation> {
        Ok(Workstation {
            store: Store::open(db_path)?,
            session: None,
        })
    }

    pub fn from_store(store: Store) -> Workstation {
        Workstation {
            store,
            session: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Authorizes and runs one command at the instant `now`.
    pub fn execute(
        &mut self,
        cmd: Command,
        now: DateTime<Utc>,
        progress: &dyn Fn(Progress),
    ) -> CoreResult<Value> {
        let actor = self.authorize(&cmd)?;
        use Command::*;
        match cmd {
            SetUpSchool {
                school_name,
                time_zone,
                admin_name,
                login,
                password,
            } => self.set_up_school(
                &actor,
                &school_name,
                &time_zone,
                admin_name,
                &login,
                &password,
                now,
            ),
            SignInPassword { login, password } => self.sign_in_password(&login, &password, now),
            SignInCard { card, pin } => self.sign_in_card(&card, &pin, now),
            SignOut => self.sign_out(now),
            WhoAmI => Ok(json!({ "session": self.session })),
            ChangeOwnPassword {
                old_password,
                new_password,
            } => self.change_own_password(&actor, &old_password, &new_password, now),
            GetSchool => self.get_school(),
            ConfigureSchool { name, time_zone } => {
                self.configure_school(&actor, &name, &time_zone, now)
            }
            SchoolSummary => self.school_summary(now),
            ListClasses => self.list_classes(),
            CreateClass { name } => self.create_class(&actor, &name, now),
            RenameClass { class_id, name } => self.rename_class(&actor, class_id, &name, now),
            ArchiveClass { class_id } => self.archive_class(&actor, class_id, now),
            SearchPeople {
                query,
                kind,
                class_id,
                include_left,
                limit,
            } => self.search_people(&query, kind, class_id, include_left, limit),
            GetPerson { person_id } => self.get_person(person_id),
            GetPhotos { person_ids } => self.get_photos(&person_ids),
            LookupCard { card } => self.lookup_card(&card),
            EnrolPupil {
                name,
                class_id,
                details,
            } => self.enrol_pupil(&actor, name, class_id, details, now),
            EnrolGuardian {
                pupil_id,
                name,
                details,
                relation,
            } => self.enrol_guardian(&actor, pupil_id, name, details, relation, now),
            UpdatePerson {
                person_id,
                name,
                details,
            } => self.update_person(&actor, person_id, name, details, now),
            MovePupil {
                person_id,
                class_id,
            } => self.move_pupil(&actor, person_id, class_id, now),
            SetPersonStatus {
                person_id,
                status,
                reason,
            } => self.set_person_status(&actor, person_id, status, reason, now),
            SetPhoto {
                person_id,
                mime,
                base64,
            } => self.set_photo(&actor, person_id, &mime, &base64, now),
            SetPhotoFromFile { person_id, path } => {
                self.set_photo_from_file(&actor, person_id, &path, now)
            }
            LinkGuardian {
                guardian_id,
                pupil_id,
                relation,
            } => self.link_guardian(&actor, guardian_id, pupil_id, relation, now),
            UnlinkGuardian {
                guardian_id,
                pupil_id,
            } => self.unlink_guardian(&actor, guardian_id, pupil_id, now),
            BindCard { person_id, card } => self.bind_card(&actor, person_id, &card, now),
            SetCardState {
                card,
                state,
                reason,
            } => self.set_card_state(&actor, &card, state, reason, now),
            ListStaff => self.list_staff(now),
            EnrolStaff {
                name,
                details,
                login,
                roles,
                password,
            } => self.enrol_staff(&actor, name, details, &login, roles, &password, now),
            SetStaffRoles { person_id, roles } => {
                self.set_staff_roles(&actor, person_id, roles, now)
            }
            SetStaffPassword {
                person_id,
                password,
            } => self.set_staff_password(&actor, person_id, &password, now),
            SetStaffPin { person_id, pin } => self.set_staff_pin(&actor, person_id, &pin, now),
            UnlockAccount { person_id } => self.unlock_account(&actor, person_id, now),
            PreviewRoster { path } => {
                let preview = crate::roster::preview_file(&self.store, &path, progress)?;
                Ok(serde_json::to_value(preview).expect("previews serialize"))
            }
            CommitRoster {
                path,
                expected_sha256,
            } => {
                let outcome = crate::roster::commit_file(
                    &mut self.store,
                    &actor,
                    now,
                    &path,
                    expected_sha256.as_deref(),
                    progress,
                )?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
            ImportPhotos { path } => {
                let outcome =
                    crate::roster::import_photos(&mut self.store, &actor, now, &path, progress)?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
            SyncStatus => self.sync_status(),
            SyncConflicts { limit } => self.sync_conflicts(limit),
            ConnectServer {
                server_url,
                code,
                name,
            } => self.connect_server(&server_url, &code, &name, now),
            DisconnectServer => self.disconnect_server(),
            ListBackups => self.list_backups(),
            MakeBackup => self.make_manual_backup(now),
            PreviewBackup { file } => self.preview_backup(&file),
            RestoreBackup { file } => self.restore_backup(&actor, &file, now),
            VerifyJournal => self.verify_journal(),
            JournalPage { before_seq, limit } => self.journal_page(before_seq, limit),
            ListDevices => self.list_devices(),
            SetWorkstationPost { post, name } => {
                self.set_workstation_post(&actor, post, &name, now)
            }
            SaveDevice { device_id, device } => self.save_device(&actor, device_id, device, now),
            RemoveDevice { device_id } => self.remove_device(&actor, device_id, now),
            OpenGate {
                device_id,
                direction,
            } => self.open_gate(&actor, device_id, direction, now),
            EndEmergency => self.end_emergency(&actor, now),
            GetAccessRules => self.get_access_rules(now),
            ConfigureAccessRules { rules } => self.configure_access_rules(&actor, *rules, now),
            GuardSummary => self.guard_summary(now),
            InsideNow => self.inside_now(),
            DayAttendance { date, class_id } => self.day_attendance(date.as_deref(), class_id, now),
            CorrectAttendance {
                person_id,
                date,
                mark,
                reason,
            } => self.correct_attendance(&actor, person_id, &date, mark, &reason, now),
            IssueVisitorPass {
                name,
                document,
                visiting,
                card,
                valid_until,
            } => {
                self.issue_visitor_pass(&actor, name, &document, &visiting, &card, valid_until, now)
            }
            CloseVisitorPass { pass_id } => self.close_visitor_pass(&actor, pass_id, now),
            ExceptionsReport { date } => self.exceptions_report(date.as_deref(), now),
            DirectorDashboard => self.director_dashboard(now),
            StartRollCall => self.start_roll_call(&actor, now),
            MarkRollCall {
                roll_call_id,
                person_id,
                present,
            } => self.mark_roll_call(&actor, roll_call_id, person_id, present, now),
            EndRollCall { roll_call_id } => self.end_roll_call(&actor, roll_call_id, now),
            RollCallState { roll_call_id } => self.roll_call_state(roll_call_id),
            ListVisitors { include_closed } => self.list_visitors(include_closed),
            CanteenCatalogue => self.canteen_catalogue(),
            DayMenu { date } => self.day_menu(date.as_deref(), now),
            ConfigureCanteen { settings } => self.configure_canteen(&actor, settings, now),
            SaveProduct {
                product_id,
                name,
                price,
                category,
                allergens,
            } => self.save_product(&actor, product_id, &name, price, &category, &allergens, now),
            SaveComplex {
                complex_id,
                name,
                meal,
                grades,
                price,
                payer,
            } => self.save_complex(&actor, complex_id, &name, meal, grades, price, payer, now),
            SetDayMenu { date, items } => self.set_day_menu(&actor, date.as_deref(), items, now),
            ImportDayMenu {
                path,
                date,
                dry_run,
            } => self.import_day_menu(&actor, &path, date.as_deref(), dry_run, now),
            SaveBenefitCategory {
                category_id,
                name,
                meals,
            } => self.save_benefit_category(&actor, category_id, &name, meals, now),
            GrantBenefit {
                person_id,
                category_id,
                valid_from,
                valid_to,
                document,
            } => self.grant_benefit(
                &actor,
                person_id,
                category_id,
                &valid_from,
                &valid_to,
                &document,
                now,
            ),
            RevokeBenefit { grant_id, reason } => {
                self.revoke_benefit(&actor, grant_id, &reason, now)
            }
            PupilCanteen { person_id } => self.pupil_canteen(person_id),
            SetCanteenBan {
                person_id,
                target,
                hours,
            } => self.set_canteen_ban(&actor, person_id, target, hours, now),
            LiftCanteenBan { person_id, ban_id } => {
                self.lift_canteen_ban(&actor, person_id, ban_id, now)
            }
            SetDailyLimit { person_id, limit } => {
                self.set_daily_limit(&actor, person_id, limit, now)
            }
            PlacePreOrder {
                person_id,
                complex_id,
                date,
            } => self.place_pre_order(&actor, person_id, complex_id, &date, now),
            CancelPreOrder {
                pre_order_id,
                reason,
            } => self.cancel_pre_order(&actor, pre_order_id, &reason, now),
            TopUpBalance {
                person_id,
                amount,
                note,
            } => self.top_up_balance(&actor, person_id, amount, &note, now),
            CorrectBalance {
                person_id,
                amount,
                reason,
            } => self.correct_balance(&actor, person_id, amount, &reason, now),
            MakeMealOrder { date } => self.make_meal_order(&actor, date.as_deref(), now),
            MealOrderForecast { date } => self.meal_order_forecast(date.as_deref(), now),
            MealOrderSheet { date } => self.meal_order_sheet(date.as_deref(), now),
            AddLateArrivals { date } => self.add_late_arrivals(&actor, date.as_deref(), now),
            AdjustMealOrder {
                date,
                person_id,
                complex_id,
                added,
                reason,
            } => self.adjust_meal_order(&actor, &date, person_id, complex_id, added, &reason, now),
            TillPupil { who } => self.till_pupil(who, now),
            ServeMeal {
                meal_id,
                who,
                complex_id,
                override_reason,
            } => self.serve_meal(
                &actor,
                meal_id,
                who,
                complex_id,
                override_reason.as_deref(),
                now,
            ),
            SellBasket {
                sale_id,
                who,
                basket,
            } => self.sell_basket(&actor, sale_id, who, basket, now),
            RefundSale { sale_id, reason } => self.refund_sale(&actor, sale_id, &reason, now),
            SaleReceipt { sale_id } => self.sale_receipt(sale_id),
            OpenShift => self.open_shift(&actor, now),
            CloseShift => self.close_shift(&actor, now),
            ShiftReport { shift_id } => self.shift_report(shift_id, now),
            ServeClass { class_id } => self.serve_class(class_id, now),
            MealsReport { from, to } => self.meals_report(&from, &to),
            SaveBookTitle { title_id, title } => self.save_book_title(&actor, title_id, title, now),
            AddBookCopy {
                title_id,
                barcode,
                location,
                item_type,
            } => self.add_book_copy(&actor, title_id, &barcode, &location, item_type, now),
            SearchCatalogue { query, limit } => self.search_catalogue(&query, limit),
            IssueBooks { who, barcodes } => self.issue_books(&actor, who, barcodes, now),
            ReturnBook { barcode, note } => self.return_book(&actor, &barcode, &note, now),
            RenewLoan { loan_id } => self.renew_loan(&actor, loan_id, now),
            MarkCopy {
                barcode,
                state,
                note,
            } => self.mark_copy(&actor, &barcode, state, &note, now),
            ReaderLoans { person_id } => self.reader_loans(person_id, now),
            OverdueList { class_id } => self.overdue_list(class_id, now),
            SendOverdueNotices { class_id } => self.send_overdue_notices(&actor, class_id, now),
            ClassLoans { class_id } => self.class_loans(class_id, now),
            StartStocktake { location } => self.start_stocktake(&actor, &location, now),
            StocktakeScan {
                stocktake_id,
                location,
                barcodes,
            } => self.stocktake_scan(&actor, stocktake_id, &location, barcodes, now),
            StocktakeReport { stocktake_id } => self.stocktake_report(stocktake_id),
            CloseStocktake { stocktake_id } => self.close_stocktake(&actor, stocktake_id, now),
            OpenStocktakes => self.open_stocktakes(),
            PreviewCatalogue { path, item_type } => {
                let preview = crate::library::import::preview_file(
                    &self.store,
                    &path,
                    item_type.unwrap_or(crate::library::ItemType::Other),
                    progress,
                )?;
                Ok(serde_json::to_value(preview).expect("previews serialize"))
            }
            CommitCatalogue {
                path,
                expected_sha256,
                item_type,
            } => {
                let outcome = crate::library::import::commit_file(
                    &mut self.store,
                    &actor,
                    now,
                    &path,
                    expected_sha256.as_deref(),
                    item_type.unwrap_or(crate::library::ItemType::Other),
                    progress,
                )?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
        }
    }

    /// Checks that the signed-in person holds one of `roles`, for the shell's actions
    /// that are not core commands (the guard's answer at the gate); returns the journal
    /// actor.
    pub fn require_roles(&self, roles: &'static [Role]) -> CoreResult<String> {
        match &self.session {
            None => Err(CoreError::NotSignedIn),
            Some(s) if s.holds_any(roles) => Ok(s.actor()),
            Some(_) => Err(CoreError::Forbidden {
                needed: roles.to_vec(),
            }),
        }
    }

    /// Checks the session against the command's access rule; returns the journal actor.
    fn authorize(&self, cmd: &Command) -> CoreResult<String> {
        let device_actor = || format!("device:{}", self.store.device());
        match (cmd.access(), &self.session) {
            (Access::Public, Some(s)) => Ok(s.actor()),
            (Access::Public, None) => Ok(device_actor()),
            (_, None) => Err(CoreError::NotSignedIn),
            (Access::SignedIn, Some(s)) => Ok(s.actor()),
            (Access::Roles(roles), Some(s)) if s.holds_any(roles) => Ok(s.actor()),
            (Access::Roles(roles), Some(_)) => Err(CoreError::Forbidden {
                needed: roles.to_vec(),
            }),
        }
    }
}

/// A person's full name from three consecutive columns (surname, name, patronymic)
/// starting at `first`; parts that are empty or NULL (a LEFT JOIN that found no one) are
/// left out.
pub(crate) fn name_at(r: &Row<'_>, first: usize) -> rusqlite::Result<String> {
    let mut parts = Vec::with_capacity(3);
    for i in first..first + 3 {
        if let Some(part) = r.get::<_, Option<String>>(i)?.filter(|p| !p.is_empty()) {
            parts.push(part);
        }
    }
    Ok(parts.join(" "))
}

/// A class's name («5А») from its grade and letter, when the person has a class.
pub(crate) fn class_label(grade: Option<u8>, letter: Option<String>) -> Option<String> {
    grade.zip(letter).map(|(g, l)| format!("{g}{l}"))
}

/// Reads a text column holding an id (or anything else parsed from text).
fn parse_col<T: std::str::FromStr>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = r.get(idx)?;
    s.parse().map_err(|_| {
        rusqlite::Error::InvalidColumnType(idx, "id".into(), rusqlite::types::Type::Text)
    })
}
