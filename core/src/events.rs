//! The vocabulary of the journal: every fact the workstation records (DESIGN.md §3).
//!
//! A payload may gain fields over time (with `#[serde(default)]`) but never changes the
//! meaning of an existing one: a neighbour one version older must still read it.

use crate::access::{AccessRules, CorrectedMark};
use crate::canteen::till::PricedLine;
use crate::canteen::{
    Ban, BenefitCategory, BenefitGrant, CanteenSettings, Complex, ComplexId, MenuItem, OrderLine,
    Payer, Product, TillReason,
};
use crate::domain::{CardState, ClassId, FullName, PersonId, PersonKind, PersonStatus, Role};
use crate::library::{BookCopy, BookTitle, CopyState, LoanId, StocktakeId};
use crate::money::Kopecks;
use crate::peripherals::{Direction, PeripheralId, PeripheralSpec, Post};
use chrono::{DateTime, NaiveDate, Utc};
use schoolcard_proto::CardId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Password,
    CardAndPin,
}

/// What happened. The serde tag is the journal's `kind` column; the rest is its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    SchoolConfigured {
        name: String,
        time_zone: String,
        /// The generated demo school (`crate::demo`): its sign-in screen lists the demo
        /// accounts with their published password and PIN.
        #[serde(default)]
        demo: bool,
    },
    ClassCreated {
        class_id: ClassId,
        grade: u8,
        letter: String,
    },
    ClassRenamed {
        class_id: ClassId,
        grade: u8,
        letter: String,
    },
    /// An empty class taken out of use (kept for history).
    ClassArchived {
        class_id: ClassId,
    },
    PersonEnrolled {
        person_id: PersonId,
        person_kind: PersonKind,
        name: FullName,
        #[serde(default)]
        class_id: Option<ClassId>,
        #[serde(default)]
        details: PersonDetails,
    },
    /// The person's name and details replaced as a whole.
    PersonUpdated {
        person_id: PersonId,
        name: FullName,
        #[serde(default)]
        details: PersonDetails,
    },
    PupilMoved {
        person_id: PersonId,
        class_id: ClassId,
    },
    PersonStatusChanged {
        person_id: PersonId,
        status: PersonStatus,
        #[serde(default)]
        reason: String,
    },
    /// The photo's bytes live in the content store under their SHA-256.
    PhotoSet {
        person_id: PersonId,
        sha256: String,
        mime: String,
    },
    GuardianLinked {
        guardian_id: PersonId,
        pupil_id: PersonId,
        #[serde(default)]
        relation: String,
    },
    GuardianUnlinked {
        guardian_id: PersonId,
        pupil_id: PersonId,
    },
    /// A card bound to a person; any earlier holder of the same card loses it.
    CardBound {
        card: CardId,
        person_id: PersonId,
        /// The form the card was typed or read in (kept for the record).
        #[serde(default)]
        raw: String,
    },
    /// Lost, blocked, returned (which frees the card) or active again.
    CardStateChanged {
        card: CardId,
        state: CardState,
        #[serde(default)]
        reason: String,
    },
    StaffAccountOpened {
        person_id: PersonId,
        login: String,
    },
    StaffRolesSet {
        person_id: PersonId,
        roles: Vec<Role>,
    },
    /// An argon2id PHC string; the password itself is never recorded.
    StaffPasswordSet {
        person_id: PersonId,
        password_hash: String,
    },
    StaffPinSet {
        person_id: PersonId,
        pin_hash: String,
    },
    SignedIn {
        person_id: PersonId,
        method: SignInMethod,
    },
    SignInFailed {
        /// The login typed, or the card presented, as given.
        attempted: String,
        #[serde(default)]
        person_id: Option<PersonId>,
        reason: String,
    },
    AccountLocked {
        person_id: PersonId,
        until: DateTime<Utc>,
    },
    AccountUnlocked {
        person_id: PersonId,
    },
    SignedOut {
        person_id: PersonId,
    },
    /// A reader or gate of the journal's origin workstation configured (anew or changed,
    /// as a whole).
    PeripheralConfigured {
        peripheral_id: PeripheralId,
        spec: PeripheralSpec,
    },
    /// The journal's origin workstation said which post it serves (the guard's door, the
    /// till, the library desk, the office) and its name («Пост охраны, вход 1»): the home
    /// screen of whoever signs in there, and how the server lists it.
    WorkstationPostSet {
        post: Post,
        name: String,
    },
    /// A staff member opened a gate one way by hand (the guard letting a visitor in, the
    /// installer testing the wiring); the shell carries it out after this is recorded.
    GateOpenedByHand {
        peripheral_id: PeripheralId,
        direction: Direction,
    },
    /// Someone at a gate: the card (or a guard's manual pass), who it is, which way, the
    /// decision with its reason, who verified it, and what the gate saw. Written once the
    /// outcome is known: at once for a denial, when the pass sensor reports for an
    /// opening.
    Passage {
        passage_id: Uuid,
        #[serde(default)]
        card: Option<CardId>,
        /// The reader's raw form of the card.
        #[serde(default)]
        raw: String,
        #[serde(default)]
        person_id: Option<PersonId>,
        #[serde(default)]
        reader_id: Option<PeripheralId>,
        #[serde(default)]
        gate_id: Option<PeripheralId>,
        direction: Direction,
        /// The school day it counts for, in the school's time zone.
        school_date: NaiveDate,
        decided_at: DateTime<Utc>,
        allowed: bool,
        /// The rule's reason code (`allowed`, `card_blocked`, `passback`, …).
        reason: String,
        /// Soft findings that did not deny (`passback_soft`, `override`, …).
        #[serde(default)]
        flags: Vec<String>,
        verified_by: Verification,
        outcome: PassOutcome,
        /// The guard's words for a passage without a card («забыл карту»).
        #[serde(default)]
        note: String,
    },
    /// A visitor let in on a visitor card until `valid_until`; they were enrolled and the
    /// card bound to them by the events just before.
    VisitorPassIssued {
        pass_id: Uuid,
        person_id: PersonId,
        card: CardId,
        /// The identity document shown («паспорт 4510 123456»).
        document: String,
        /// Whom or what they came for («к директору»).
        visiting: String,
        valid_until: DateTime<Utc>,
    },
    /// The visitor left (or the pass was closed by hand); the card was handed back.
    VisitorPassClosed {
        pass_id: Uuid,
    },
    /// Every gate unlocked for an emergency (the fire alarm's input or the guard's button).
    /// Journaled after the gates were unlocked, never before.
    EmergencyUnlocked {
        source: EmergencySource,
        /// The gates that took the command.
        gates: Vec<PeripheralId>,
        /// The gates that did not, with why (unplugged, offline).
        #[serde(default)]
        failed: Vec<GateFailure>,
    },
    /// The emergency is over: the gates are locked again.
    EmergencyEnded {
        #[serde(default)]
        gates: Vec<PeripheralId>,
    },
    /// A roll-call at the assembly point begins: `people` are everyone inside when it
    /// began (the evacuation list).
    RollCallStarted {
        roll_call_id: Uuid,
        people: Vec<PersonId>,
    },
    /// The guard ticked a person as seen at the assembly point (or took the tick back).
    RollCallMarked {
        roll_call_id: Uuid,
        person_id: PersonId,
        present: bool,
    },
    RollCallEnded {
        roll_call_id: Uuid,
    },
    /// An admin's correction of a person's attendance on one day, with the reason.
    AttendanceCorrected {
        person_id: PersonId,
        school_date: NaiveDate,
        mark: CorrectedMark,
        reason: String,
    },
    /// The access rules (calendar, bell schedule, policy) replaced as a whole.
    AccessRulesConfigured {
        rules: Box<AccessRules>,
    },
    /// A reader or gate taken off the workstation's list.
    PeripheralRemoved {
        peripheral_id: PeripheralId,
    },
    // The canteen (СОП, `crate::canteen`).
    /// The canteen's settings replaced as a whole.
    CanteenConfigured {
        settings: CanteenSettings,
    },
    /// A product added to the buffet's list or changed, as a whole.
    ProductSaved {
        product: Product,
    },
    /// A complex meal added or changed, as a whole.
    ComplexSaved {
        complex: Complex,
    },
    /// What the buffet sells on `school_date`, at what price (replaces that day's menu).
    DayMenuSet {
        school_date: NaiveDate,
        items: Vec<MenuItem>,
    },
    BenefitCategorySaved {
        category: BenefitCategory,
    },
    /// A pupil placed in a benefit category for a span of dates, on a document.
    BenefitGranted {
        grant: BenefitGrant,
    },
    /// A grant withdrawn (a document found void, entered by mistake).
    BenefitRevoked {
        grant_id: Uuid,
        reason: String,
    },
    /// A parents' ban on a product, a category or an allergen for their child (set by
    /// an admin at the workstation, later by the parents on the portal).
    CanteenBanSet {
        person_id: PersonId,
        ban: Ban,
    },
    CanteenBanLifted {
        person_id: PersonId,
        ban_id: Uuid,
    },
    /// A pupil's daily buffet limit; `None` lifts it.
    DailyLimitSet {
        person_id: PersonId,
        #[serde(default)]
        limit: Option<Kopecks>,
    },
    /// A parents' complex paid in advance for one day: the price leaves the balance.
    PreOrderPlaced {
        pre_order_id: Uuid,
        person_id: PersonId,
        complex_id: ComplexId,
        school_date: NaiveDate,
        price: Kopecks,
    },
    /// A pre-order taken back before the day's order: the price returns to the balance.
    PreOrderCancelled {
        pre_order_id: Uuid,
        reason: String,
    },
    /// Money put on a pupil's balance (on a standalone workstation an admin enters it).
    BalanceToppedUp {
        person_id: PersonId,
        amount: Kopecks,
        #[serde(default)]
        note: String,
    },
    /// An admin's correction of a balance, either way, with the reason.
    BalanceCorrected {
        person_id: PersonId,
        amount: Kopecks,
        reason: String,
    },
    /// The day's meal order (заявка) made at the cut-off.
    MealOrderMade {
        school_date: NaiveDate,
        cut_off: DateTime<Utc>,
        lines: Vec<OrderLine>,
    },
    /// One pupil added to or taken off the day's order: a late arrival, or an admin's
    /// adjustment with the reason.
    MealOrderCorrected {
        school_date: NaiveDate,
        class_id: ClassId,
        complex_id: ComplexId,
        person_id: PersonId,
        price: Kopecks,
        payer: Payer,
        added: bool,
        cause: OrderCorrectionCause,
        #[serde(default)]
        reason: String,
    },
    /// A complex served at the till, free or pre-paid. `meal_id` is the till's own, so a
    /// repeated request is recognised. An override names the refusal it set aside.
    MealServed {
        meal_id: Uuid,
        person_id: PersonId,
        complex_id: ComplexId,
        school_date: NaiveDate,
        price: Kopecks,
        payer: Payer,
        #[serde(default)]
        overridden: Option<TillReason>,
        #[serde(default)]
        reason: String,
    },
    /// A buffet basket sold from the pupil's balance. `sale_id` is the till's own, so a
    /// repeated request is recognised and never charged twice.
    SaleMade {
        sale_id: Uuid,
        person_id: PersonId,
        school_date: NaiveDate,
        lines: Vec<PricedLine>,
        total: Kopecks,
    },
    /// A sale given back in full: the total returns to the balance.
    SaleRefunded {
        sale_id: Uuid,
        person_id: PersonId,
        amount: Kopecks,
        reason: String,
    },
    /// A cashier opened a shift at this till (the event's origin).
    ShiftOpened {
        shift_id: Uuid,
        cashier_id: PersonId,
    },
    /// The till's shift closed: its report covers from its opening until now.
    ShiftClosed {
        shift_id: Uuid,
    },
    /// A roster file committed; the people it created or changed follow as their own events.
    RosterImported {
        file_name: String,
        sha256: String,
        rows: u32,
        created: u32,
        updated: u32,
    },
    /// A catalogue file committed (`crate::library::import`); the titles and copies it
    /// added follow as their own events. `format`: `marc21`, `rusmarc`, `csv`, `xlsx`, ….
    CatalogueImported {
        file_name: String,
        sha256: String,
        format: String,
        titles: u32,
        copies: u32,
    },
    /// The database was restored from the backup `file` (`crate::backup`), appended
    /// right after the restore: what came before it in the journal is the backup's,
    /// up to `last_event_at`.
    BackupRestored {
        file: String,
        #[serde(default)]
        taken_at: Option<DateTime<Utc>>,
        #[serde(default)]
        last_event_at: Option<DateTime<Utc>>,
        events: u64,
    },
    // The library (Библиотека, `crate::library`).
    /// A title of the catalogue added or changed, as a whole.
    BookTitleSaved {
        title: BookTitle,
    },
    /// A copy put on the shelf under its inventory barcode.
    BookCopyAdded {
        copy: BookCopy,
    },
    /// A copy marked lost or written off (which closes its open loan, if any), or back on
    /// the shelf (a lost copy found).
    BookCopyStateChanged {
        barcode: String,
        state: CopyState,
        #[serde(default)]
        note: String,
    },
    /// A copy lent to a reader until `due` (the school's date).
    BookIssued {
        loan_id: LoanId,
        barcode: String,
        person_id: PersonId,
        due: NaiveDate,
    },
    /// The copy came back to the desk and is on the shelf again; the note says in what
    /// condition.
    BookReturned {
        loan_id: LoanId,
        barcode: String,
        #[serde(default)]
        note: String,
    },
    /// The loan extended until `due`.
    BookRenewed {
        loan_id: LoanId,
        due: NaiveDate,
    },
    /// The librarian reminded a reader of a book past its due date; the central server
    /// shows it to the pupil's parents and notifies them. Self-contained: the title and
    /// the days are as they were when the notice went out.
    BookOverdueNotice {
        loan_id: LoanId,
        person_id: PersonId,
        barcode: String,
        title: String,
        due: NaiveDate,
        days_overdue: i64,
    },
    /// A stocktake (инвентаризация) begun, of one shelf or room (`scope_location`) or,
    /// when empty, of the whole library.
    StocktakeStarted {
        stocktake_id: StocktakeId,
        #[serde(default)]
        scope_location: String,
    },
    /// Copies scanned on the shelf `location`: a batch of beeps, not one event each.
    /// Barcodes no copy has are recorded as they were scanned.
    StocktakeScanned {
        stocktake_id: StocktakeId,
        barcodes: Vec<String>,
        #[serde(default)]
        location: String,
    },
    /// The stocktake is over: no more scans.
    StocktakeClosed {
        stocktake_id: StocktakeId,
    },
}

/// Why a pupil joined or left the day's meal order after the cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderCorrectionCause {
    /// Came in through the gate after the cut-off.
    LateArrival,
    /// An admin's adjustment, with a reason.
    Admin,
}

/// What set off an emergency unlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencySource {
    /// The fire alarm panel's contact on a configured input.
    AlarmInput,
    /// The guard's button on the screen (confirmed).
    Button,
    /// The guard's keyboard shortcut, caught outside the web view.
    Hotkey,
}

/// A gate that did not take an emergency command, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateFailure {
    pub gate_id: PeripheralId,
    pub error: String,
}

/// Who let a passage through or stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The rules alone.
    Automatic,
    /// The guard looked at the photo and pressed Enter or Esc (or let it time out).
    Guard,
    /// An external verifier (a face-recognition system) answered.
    External,
    /// The guard overrode the rules' denial.
    Override,
}

/// What the gate saw after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassOutcome {
    /// The pass sensor confirmed it (or the gate has no sensor and was opened).
    Passed,
    /// The gate opened but nobody went through before it closed.
    NoPass,
    /// Not let through.
    Denied,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetails {
    /// The id the school's own records use (roster files and photo names refer to it).
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Staff only: the job title shown on screens («учитель математики»).
    #[serde(default)]
    pub position: Option<String>,
}

impl EventBody {
    /// The journal's `kind` column and payload: the serde tag, and the JSON object
    /// without it.
    pub fn to_parts(&self) -> (String, String) {
        let mut value = serde_json::to_value(self).expect("event bodies always serialize");
        let kind = value
            .as_object_mut()
            .and_then(|obj| obj.remove("kind"))
            .and_then(|k| k.as_str().map(str::to_owned))
            .expect("event bodies are tagged objects");
        (kind, value.to_string())
    }

    pub fn from_parts(kind: &str, payload: &str) -> Result<Self, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_str(payload)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("kind".into(), serde_json::Value::String(kind.to_owned()));
        }
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_payload_round_trip() {
        let body = EventBody::SignedOut {
            person_id: PersonId::new_v7(),
        };
        let (kind, payload) = body.to_parts();
        assert_eq!(kind, "signed_out");
        assert!(!payload.contains("signed_out"));
        assert_eq!(EventBody::from_parts(&kind, &payload).unwrap(), body);
    }
}
