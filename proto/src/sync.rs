//! The sync protocol between a workstation and the central server (DESIGN.md §4).
//!
//! Every call carries [`PROTOCOL_HEADER`]; the server serves versions
//! [`OLDEST_SUPPORTED_PROTOCOL`]`..=`[`PROTOCOL_VERSION`] and answers an older one with
//! 426 and [`ErrorCode::ProtocolTooOld`]. A device authenticates every call with
//! `Authorization: Device <device id>:<secret>`; the secret is handed out once at
//! enrolment and stored hashed on the server. `server/openapi.yaml` describes the routes.
//!
//! - **Push** (`POST /v1/sync/push`): a batch of the device's own events, in `origin_seq`
//!   order. The server stores them idempotently by (`origin`, `origin_seq`): an identical
//!   replay gets the original placement, the same number with another content is refused
//!   with 409 and an alert. The answer names the highest contiguous `origin_seq` held.
//! - **Pull** (`GET /v1/sync/pull?after=<global seq>&limit=<n>`): events of the device's
//!   school authored elsewhere, in the server's global order, one bounded page at a time,
//!   with the balances of the pupils the page touched.

use serde::{Deserialize, Serialize};

/// The protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest protocol a server of this build still serves: one version back keeps syncing.
pub const OLDEST_SUPPORTED_PROTOCOL: u32 = 1;
/// The request header that names the caller's protocol version.
pub const PROTOCOL_HEADER: &str = "x-schoolcard-protocol";
/// The scheme of the `Authorization` header of a device: `Device <id>:<secret>`.
pub const DEVICE_AUTH_SCHEME: &str = "Device";

/// The most events one push may carry; a bigger batch is refused with 413.
pub const MAX_PUSH_EVENTS: usize = 5_000;
/// The most events one pull page holds; a bigger `limit` is clamped to it.
pub const MAX_PULL_EVENTS: u32 = 5_000;

/// The origin the server writes its own events under for a school (top-ups paid through
/// the payment provider, master data entered on the server): one gap-free sequence per
/// school, so every workstation of the school sees it whole.
pub fn server_origin(school_id: &str) -> String {
    format!("srv-{}", school_id.replace('-', ""))
}

/// The kinds of event the server may author for a school on an admin's word
/// (`POST /v1/admin/schools/{id}/events`): master data and money corrections, which
/// travel to the school's workstations like any other event. Facts that only a post can
/// witness (a passage, a sale, a meal served) are never authored on the server.
pub const SERVER_AUTHORED_KINDS: &[&str] = &[
    "card_state_changed",
    "product_saved",
    "complex_saved",
    "day_menu_set",
    "benefit_category_saved",
    "benefit_granted",
    "benefit_revoked",
    "canteen_ban_set",
    "canteen_ban_lifted",
    "daily_limit_set",
    "pre_order_placed",
    "pre_order_cancelled",
    "balance_topped_up",
    "balance_corrected",
];

/// `POST /v1/admin/schools/{id}/events`: an event the server writes for the school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthoredEvent {
    /// One of [`SERVER_AUTHORED_KINDS`].
    pub kind: String,
    /// The event's fields (a JSON object), as the workstation's journal holds them.
    pub payload: serde_json::Value,
}

/// Where the server put an event it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthoredAnswer {
    pub id: String,
    pub origin: String,
    pub origin_seq: u64,
    pub global_seq: u64,
}

/// One journal event as it travels. `payload` is the JSON text exactly as the author
/// journaled it (without the `kind` tag), so a replay compares byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    /// UUID v7, hyphenated.
    pub id: String,
    pub origin: String,
    /// Gap-free per origin, from 1.
    pub origin_seq: u64,
    /// Microseconds since the Unix epoch, UTC.
    pub occurred_at_us: i64,
    pub actor: String,
    pub kind: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The pushing device; must be the authenticated one and every event's origin.
    pub origin: String,
    /// The global seq through which the device had applied the server's events when
    /// these events were written (its pull cursor): the server keeps it beside each
    /// event, so a later reader can tell a concurrent edit from an informed one.
    pub seen_through: u64,
    pub events: Vec<WireEvent>,
}

/// Where the server put one pushed event in its global order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub origin_seq: u64,
    pub global_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The highest `n` such that the server holds every `origin_seq` in `1..=n` of this
    /// device. The device may forget (stop resending) everything up to it.
    pub acked_through: u64,
    /// Events of this batch stored now.
    pub stored: u32,
    /// Events of this batch the server already held, identical.
    pub replayed: u32,
    /// The global place of every event of the batch (new and replayed), in batch order.
    pub placements: Vec<Placement>,
    /// Set when the server holds numbers past a hole: the first missing `origin_seq`.
    /// The server keeps what it got and raises an alert; the device resends from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_from: Option<u64>,
}

/// Query of `GET /v1/sync/pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullQuery {
    /// The device's cursor: the last global seq it has applied (0 at first).
    pub after: u64,
    /// Page size; clamped to [`MAX_PULL_EVENTS`].
    pub limit: u32,
}

/// An event authored elsewhere, as pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledEvent {
    pub global_seq: u64,
    /// The author's `seen_through` when it pushed the event (0 for server events).
    pub seen_through: u64,
    pub event: WireEvent,
}

/// A pupil's balance on the server's ledger and the ledger position it reflects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceAt {
    pub person_id: String,
    pub balance: i64,
    /// The global seq of the last ledger entry summed into `balance`.
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// In global order, none authored by the caller.
    pub events: Vec<PulledEvent>,
    /// The new cursor: the last global seq this page covered (own events included, so
    /// the cursor moves past them). Equal to `after` when there was nothing.
    pub cursor: u64,
    /// Whether more events follow right away.
    pub more: bool,
    /// Balances of the pupils whose money the page's events (or the caller's own events in
    /// the same range) touched.
    #[serde(default)]
    pub balances: Vec<BalanceAt>,
}

/// `POST /v1/enrol`: a workstation exchanges a one-time code for its credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    /// The workstation's own origin id (`ws-…`), which its events already carry.
    pub device_id: String,
    /// What the school calls the post ("Вход, турникет 1").
    #[serde(default)]
    pub name: String,
    /// The app's version, for the server's device list.
    #[serde(default)]
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: String,
    /// Shown once; the server keeps only its hash.
    pub secret: String,
    pub school_id: String,
    pub school_name: String,
}

/// `GET /v1/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub protocol_version: u32,
    pub oldest_supported_protocol: u32,
    pub server_version: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence for the log and the IT person.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body or a query does not parse, or breaks a rule of the protocol.
    BadRequest,
    /// 401: no credential, a wrong one, or a revoked device.
    Unauthorized,
    /// 403: the credential is fine but may not do this.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: an event number the server holds with another content.
    ConflictingReplay,
    /// 410: an enrolment code used or expired.
    CodeExpired,
    /// 413: a push bigger than [`MAX_PUSH_EVENTS`].
    TooLarge,
    /// 426: the caller's protocol is older than the server serves.
    ProtocolTooOld,
    /// 429.
    RateLimited,
    /// 500/503.
    Unavailable,
}

/// What a journal event does to a pupil's money, read from its kind and payload. The
/// server's ledger posts exactly this; the workstation's balance projection does the same
/// (a test in `schoolcard-core` holds the two together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyEffect {
    /// Posted once per `reference`: a second event with the same reference posts nothing.
    Post {
        person_id: String,
        /// Signed kopecks: negative takes money off the balance.
        amount: i64,
        reference: String,
        /// Posted only if an entry with this reference exists and no entry with
        /// `reference` does yet (a refund needs its sale).
        requires: Option<String>,
    },
    /// Gives back what the entry `of` took, once (a cancelled pre-order).
    Reverse { of: String, reference: String },
}

/// The money effect of a journal event, or `None` for events that move no money.
pub fn money_effect(
    kind: &str,
    event_id: &str,
    payload: &str,
) -> Result<Option<MoneyEffect>, serde_json::Error> {
    use serde_json::Value;
    let money_kinds = [
        "balance_topped_up",
        "balance_corrected",
        "pre_order_placed",
        "pre_order_cancelled",
        "sale_made",
        "sale_refunded",
    ];
    if !money_kinds.contains(&kind) {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(payload)?;
    let text = |field: &str| -> Result<String, serde_json::Error> {
        value
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| serde::de::Error::custom(format!("{kind}: no `{field}`")))
    };
    let number = |field: &str| -> Result<i64, serde_json::Error> {
        value
            .get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| serde::de::Error::custom(format!("{kind}: no `{field}`")))
    };
    let effect = match kind {
        "balance_topped_up" | "balance_corrected" => MoneyEffect::Post {
            person_id: text("person_id")?,
            amount: number("amount")?,
            reference: format!("event:{event_id}"),
            requires: None,
        },
        "pre_order_placed" => MoneyEffect::Post {
            person_id: text("person_id")?,
            amount: -number("price")?,
            reference: format!("pre_order:{}", text("pre_order_id")?),
            requires: None,
        },
        "pre_order_cancelled" => {
            let id = text("pre_order_id")?;
            MoneyEffect::Reverse {
                of: format!("pre_order:{id}"),
                reference: format!("pre_order_cancelled:{id}"),
            }
        }
        "sale_made" => MoneyEffect::Post {
            person_id: text("person_id")?,
            amount: -number("total")?,
            reference: format!("sale:{}", text("sale_id")?),
            requires: None,
        },
        "sale_refunded" => {
            let sale = text("sale_id")?;
            MoneyEffect::Post {
                person_id: text("person_id")?,
                amount: number("amount")?,
                reference: format!("sale_refunded:{sale}"),
                requires: Some(format!("sale:{sale}")),
            }
        }
        _ => unreachable!("checked against money_kinds"),
    };
    Ok(Some(effect))
}

/// The payload of a top-up the server writes when the payment provider confirms one, in
/// the shape of the workstation's `balance_topped_up` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpPayload {
    pub person_id: String,
    pub amount: i64,
    #[serde(default)]
    pub note: String,
}

impl TopUpPayload {
    pub const KIND: &'static str = "balance_topped_up";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_effects_read_each_money_kind_and_ignore_the_rest() {
        let sale = r#"{"sale_id":"s1","person_id":"p1","school_date":"2026-09-01","lines":[],"total":4500}"#;
        assert_eq!(
            money_effect("sale_made", "e1", sale).unwrap(),
            Some(MoneyEffect::Post {
                person_id: "p1".into(),
                amount: -4500,
                reference: "sale:s1".into(),
                requires: None
            })
        );
        let refund = r#"{"sale_id":"s1","person_id":"p1","amount":4500,"reason":"x"}"#;
        assert_eq!(
            money_effect("sale_refunded", "e2", refund).unwrap(),
            Some(MoneyEffect::Post {
                person_id: "p1".into(),
                amount: 4500,
                reference: "sale_refunded:s1".into(),
                requires: Some("sale:s1".into())
            })
        );
        assert_eq!(
            money_effect(
                "pre_order_cancelled",
                "e3",
                r#"{"pre_order_id":"o1","reason":""}"#
            )
            .unwrap(),
            Some(MoneyEffect::Reverse {
                of: "pre_order:o1".into(),
                reference: "pre_order_cancelled:o1".into()
            })
        );
        assert_eq!(
            money_effect("passage", "e4", "not even json").unwrap(),
            None
        );
        assert!(money_effect("sale_made", "e5", r#"{"sale_id":"s"}"#).is_err());
    }

    #[test]
    fn wire_types_round_trip_and_error_codes_are_snake_case() {
        let body = ErrorBody {
            code: ErrorCode::ProtocolTooOld,
            message: "update".into(),
        };
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains("\"protocol_too_old\""), "{text}");
        assert_eq!(serde_json::from_str::<ErrorBody>(&text).unwrap(), body);
        assert_eq!(server_origin("0190-ab"), "srv-0190ab");
    }
}
