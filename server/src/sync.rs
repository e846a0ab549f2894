//! Push and pull (DESIGN.md §4), the ledger postings of money events, and the server's own
//! events.
//!
//! **One global order.** Every write to the journal takes one transaction-scoped advisory
//! lock ([`JOURNAL_LOCK_KEY`]) before it numbers its rows from `global_seq_counter`, and
//! holds it until commit. So global seqs are handed out in commit order, every snapshot
//! of `events` is a prefix of the global order (plus holes left by replays, never filled
//! later), and a puller that has read through seq N will never later find a new event
//! numbered N or below.

use std::collections::HashMap;

use axum::http::StatusCode;
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::Device;
use crate::error::ApiError;
use schoolcard_proto::sync::{
    money_effect, server_origin, BalanceAt, ErrorCode, MoneyEffect, Placement, PullResponse,
    PulledEvent, PushRequest, PushResponse, WireEvent, MAX_PULL_EVENTS, MAX_PUSH_EVENTS,
};

/// The key of the advisory lock every journal writer holds until it commits.
pub const JOURNAL_LOCK_KEY: i64 = 0x5343_4a4f_5552_4e4c; // "SCJOURNL"
/// An actor name, a kind and an id are short; a payload is bounded by the request size.
const SHORT_TEXT_LEN_MAX: usize = 200;

/// Takes the journal lock and reserves `count` global seqs: answers the seq before the
/// first (the rows get `base + 1 ..= base + count`).
async fn reserve_global_seqs(tx: &mut PgConnection, count: i64) -> Result<i64, sqlx_core::Error> {
    query("SELECT pg_advisory_xact_lock($1)")
        .bind(JOURNAL_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    query_scalar("UPDATE global_seq_counter SET last = last + $1 RETURNING last - $1")
        .bind(count)
        .fetch_one(&mut *tx)
        .await
}

/// The event's columns, one array per column, in batch order: what UNNEST reads.
#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    origin_seqs: Vec<i64>,
    occurred_at_us: Vec<i64>,
    actors: Vec<String>,
    kinds: Vec<String>,
    payloads: Vec<String>,
}

/// A ledger posting waiting for its event's global seq: the index of the event in the batch.
struct PendingEffect {
    index: usize,
    effect: MoneyEffect,
}

fn validate_push(
    device: &Device,
    request: PushRequest,
) -> Result<(Columns, Vec<PendingEffect>, i64), ApiError> {
    if request.origin != device.id {
        return Err(ApiError::bad_request(format!(
            "the push names origin {} but the device signed in as {}",
            request.origin, device.id
        )));
    }
    if request.events.len() > MAX_PUSH_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "a push carries at most {MAX_PUSH_EVENTS} events; this one has {}",
                request.events.len()
            ),
        ));
    }
    let seen_through = i64::try_from(request.seen_through)
        .map_err(|_| ApiError::bad_request("seen_through is beyond the server's range"))?;
    let count = request.events.len();
    let mut columns = Columns {
        ids: Vec::with_capacity(count),
        origin_seqs: Vec::with_capacity(count),
        occurred_at_us: Vec::with_capacity(count),
        actors: Vec::with_capacity(count),
        kinds: Vec::with_capacity(count),
        payloads: Vec::with_capacity(count),
    };
    let mut effects = Vec::new();
    let mut seqs_seen = std::collections::HashSet::with_capacity(count);
    let mut ids_seen = std::collections::HashSet::with_capacity(count);
    for (index, event) in request.events.into_iter().enumerate() {
        let WireEvent {
            id,
            origin,
            origin_seq,
            occurred_at_us,
            actor,
            kind,
            payload,
        } = event;
        if origin != device.id {
            return Err(ApiError::bad_request(format!(
                "event {origin_seq} has origin {origin}; a device pushes only its own events ({})",
                device.id
            )));
        }
        let seq = i64::try_from(origin_seq)
            .ok()
            .filter(|seq| *seq >= 1)
            .ok_or_else(|| {
                ApiError::bad_request(format!("origin_seq {origin_seq} is out of range (1..2^63)"))
            })?;
        if !seqs_seen.insert(seq) {
            return Err(ApiError::bad_request(format!(
                "origin_seq {seq} appears twice in the batch"
            )));
        }
        let uuid = Uuid::parse_str(&id)
            .map_err(|_| ApiError::bad_request(format!("event {seq}: id {id:?} is not a UUID")))?;
        if !ids_seen.insert(uuid) {
            return Err(ApiError::bad_request(format!(
                "event {seq}: id {id} appears twice in the batch"
            )));
        }
        if actor.len() > SHORT_TEXT_LEN_MAX || kind.is_empty() || kind.len() > SHORT_TEXT_LEN_MAX {
            return Err(ApiError::bad_request(format!(
                "event {seq}: kind must be 1 to {SHORT_TEXT_LEN_MAX} bytes and actor at most {SHORT_TEXT_LEN_MAX}"
            )));
        }
        match money_effect(&kind, &uuid.to_string(), &payload) {
            Ok(Some(effect)) => effects.push(PendingEffect { index, effect }),
            Ok(None) => {}
            Err(error) => {
                return Err(ApiError::bad_request(format!(
                    "event {seq} ({kind}): the payload is not a valid money event: {error}"
                )))
            }
        }
        columns.ids.push(uuid);
        columns.origin_seqs.push(seq);
        columns.occurred_at_us.push(occurred_at_us);
        columns.actors.push(actor);
        columns.kinds.push(kind);
        columns.payloads.push(payload);
    }
    Ok((columns, effects, seen_through))
}

/// Why a push was refused after its transaction started: the answer, and an alert to keep.
struct Refusal {
    error: ApiError,
    alert: serde_json::Value,
}

/// Stores a device's batch idempotently and posts its money; see the module docs for the
/// ordering. Refuses the whole batch (nothing stored) on a conflicting replay and records
/// a `conflicting_replay` alert.
pub async fn push(
    pool: &PgPool,
    device: &Device,
    request: PushRequest,
) -> Result<PushResponse, ApiError> {
    let (columns, effects, seen_through) = validate_push(device, request)?;
    if columns.ids.is_empty() {
        let acked: Option<i64> =
            query_scalar("SELECT acked_through FROM device_heads WHERE origin = $1")
                .bind(&device.id)
                .fetch_optional(pool)
                .await?;
        return Ok(PushResponse {
            acked_through: acked.unwrap_or(0) as u64,
            stored: 0,
            replayed: 0,
            placements: Vec::new(),
            missing_from: None,
        });
    }
    let mut tx = pool.begin().await?;
    match push_in(&mut tx, device, &columns, &effects, seen_through).await? {
        Ok(response) => {
            tx.commit().await?;
            Ok(response)
        }
        Err(refusal) => {
            tx.rollback().await?;
            record_alert(
                pool,
                "conflicting_replay",
                Some(device.school_id),
                Some(&device.id),
                refusal.alert,
            )
            .await?;
            tracing::warn!(device = %device.id, message = %refusal.error.message, "push refused");
            Err(refusal.error)
        }
    }
}

async fn push_in(
    tx: &mut PgConnection,
    device: &Device,
    columns: &Columns,
    effects: &[PendingEffect],
    seen_through: i64,
) -> Result<Result<PushResponse, Refusal>, ApiError> {
    let count = columns.ids.len();
    let base = reserve_global_seqs(tx, count as i64).await?;
    let inserted: Result<Vec<(i64, i64)>, sqlx_core::Error> = query_as(
        "INSERT INTO events (global_seq, school_id, id, origin, origin_seq, occurred_at_us, actor, kind, payload, seen_through)
         SELECT $1 + u.ord, $2, u.id, $3, u.origin_seq, u.occurred_at_us, u.actor, u.kind, u.payload, $4
         FROM UNNEST($5::uuid[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[])
              WITH ORDINALITY AS u(id, origin_seq, occurred_at_us, actor, kind, payload, ord)
         ON CONFLICT (origin, origin_seq) DO NOTHING
         RETURNING origin_seq, global_seq",
    )
    .bind(base)
    .bind(device.school_id)
    .bind(&device.id)
    .bind(seen_through)
    .bind(&columns.ids)
    .bind(&columns.origin_seqs)
    .bind(&columns.occurred_at_us)
    .bind(&columns.actors)
    .bind(&columns.kinds)
    .bind(&columns.payloads)
    .fetch_all(&mut *tx)
    .await;
    let inserted = match inserted {
        Ok(rows) => rows,
        Err(sqlx_core::Error::Database(error)) if error.constraint() == Some("events_id_key") => {
            return Ok(Err(id_reused(device, columns)));
        }
        Err(error) => return Err(error.into()),
    };
    let placed: HashMap<i64, i64> = inserted.iter().copied().collect();

    // Rows not inserted were held already: identical → a replay, otherwise refused.
    let mut replayed_at: HashMap<i64, i64> = HashMap::new();
    if placed.len() < count {
        let missing: Vec<i64> = columns
            .origin_seqs
            .iter()
            .copied()
            .filter(|seq| !placed.contains_key(seq))
            .collect();
        type Stored = (i64, i64, Uuid, i64, String, String, String);
        let stored: Vec<Stored> = query_as(
            "SELECT origin_seq, global_seq, id, occurred_at_us, actor, kind, payload FROM events
             WHERE origin = $1 AND origin_seq = ANY($2)",
        )
        .bind(&device.id)
        .bind(&missing)
        .fetch_all(&mut *tx)
        .await?;
        let position: HashMap<i64, usize> = columns
            .origin_seqs
            .iter()
            .enumerate()
            .map(|(index, seq)| (*seq, index))
            .collect();
        for (seq, global_seq, id, occurred_at_us, actor, kind, payload) in stored {
            let i = position[&seq];
            let mut differing = Vec::new();
            if id != columns.ids[i] {
                differing.push("id");
            }
            if occurred_at_us != columns.occurred_at_us[i] {
                differing.push("occurred_at_us");
            }
            if actor != columns.actors[i] {
                differing.push("actor");
            }
            if kind != columns.kinds[i] {
                differing.push("kind");
            }
            if payload != columns.payloads[i] {
                differing.push("payload");
            }
            if !differing.is_empty() {
                return Ok(Err(Refusal {
                    error: ApiError::conflicting_replay(format!(
                        "event {seq} of {} is already held with another {}: the server keeps the first; \
                         nothing of this batch was stored",
                        device.id,
                        differing.join(", ")
                    )),
                    alert: serde_json::json!({
                        "origin_seq": seq,
                        "differing": differing,
                        "held_id": id.to_string(),
                        "pushed_id": columns.ids[i].to_string(),
                    }),
                }));
            }
            replayed_at.insert(seq, global_seq);
        }
    }

    let (acked_through, missing_from) = advance_head(tx, device).await?;

    let postings: Vec<(i64, &MoneyEffect)> = effects
        .iter()
        .filter_map(|pending| {
            placed
                .get(&columns.origin_seqs[pending.index])
                .map(|global_seq| (*global_seq, &pending.effect))
        })
        .collect();
    post_ledger(tx, device.school_id, &postings).await?;

    let placements = columns
        .origin_seqs
        .iter()
        .map(|seq| Placement {
            origin_seq: *seq as u64,
            global_seq: placed
                .get(seq)
                .or_else(|| replayed_at.get(seq))
                .copied()
                .unwrap_or(0) as u64,
        })
        .collect();
    Ok(Ok(PushResponse {
        acked_through,
        stored: placed.len() as u32,
        replayed: (count - placed.len()) as u32,
        placements,
        missing_from,
    }))
}

/// A pushed event whose id the server holds under another (origin, origin_seq).
/// The failed statement aborted the transaction, so the batch's range is all it names.
fn id_reused(device: &Device, columns: &Columns) -> Refusal {
    Refusal {
        error: ApiError::conflicting_replay(format!(
            "an event of this batch from {} has an id the server already holds under another \
             origin or number; nothing of this batch was stored",
            device.id
        )),
        alert: serde_json::json!({
            "reason": "event id held under another (origin, origin_seq)",
            "batch_first_seq": columns.origin_seqs.first(),
            "batch_last_seq": columns.origin_seqs.last(),
        }),
    }
}

/// Moves the device's contiguous head past what it now holds, and raises one
/// `sequence_gap` alert per hole. Answers (acked_through, first missing seq).
async fn advance_head(
    tx: &mut PgConnection,
    device: &Device,
) -> Result<(u64, Option<u64>), ApiError> {
    let head: Option<(i64, Option<i64>)> =
        query_as("SELECT acked_through, gap_alerted_from FROM device_heads WHERE origin = $1")
            .bind(&device.id)
            .fetch_optional(&mut *tx)
            .await?;
    let (acked, gap_alerted_from) = head.unwrap_or((0, None));
    // Gaps and islands: past the head, seq - row_number stays equal to the head along the
    // contiguous run.
    let (contiguous, highest): (Option<i64>, Option<i64>) = query_as(
        "SELECT max(origin_seq) FILTER (WHERE origin_seq - rn = $2), max(origin_seq)
         FROM (SELECT origin_seq, row_number() OVER (ORDER BY origin_seq) AS rn
               FROM events WHERE origin = $1 AND origin_seq > $2) AS past_head",
    )
    .bind(&device.id)
    .bind(acked)
    .fetch_one(&mut *tx)
    .await?;
    let new_acked = contiguous.unwrap_or(acked);
    let missing_from = highest
        .filter(|highest| *highest > new_acked)
        .map(|_| new_acked + 1);
    let mut alerted = gap_alerted_from;
    if let Some(missing) = missing_from {
        if gap_alerted_from != Some(missing) {
            alerted = Some(missing);
            query("INSERT INTO alerts (kind, school_id, device_id, detail) VALUES ('sequence_gap', $1, $2, $3)")
                .bind(device.school_id)
                .bind(&device.id)
                .bind(serde_json::json!({
                    "missing_from": missing,
                    "held_through": highest,
                }))
                .execute(&mut *tx)
                .await?;
            tracing::warn!(device = %device.id, missing_from = missing, "hole in a device's sequence");
        }
    }
    if head != Some((new_acked, alerted)) {
        query(
            "INSERT INTO device_heads (origin, acked_through, gap_alerted_from) VALUES ($1, $2, $3)
             ON CONFLICT (origin) DO UPDATE SET acked_through = EXCLUDED.acked_through,
               gap_alerted_from = EXCLUDED.gap_alerted_from",
        )
        .bind(&device.id)
        .bind(new_acked)
        .bind(alerted)
        .execute(&mut *tx)
        .await?;
    }
    Ok((new_acked as u64, missing_from.map(|seq| seq as u64)))
}

/// Posts the money effects of newly stored events, in batch order, one statement per kind
/// of posting: plain posts first (so a refund or a cancellation later in the same batch
/// finds its sale or pre-order), then conditional posts, then reversals. Every posting
/// is once per reference (`ON CONFLICT DO NOTHING`); a debit is posted even below zero.
pub async fn post_ledger(
    tx: &mut PgConnection,
    school_id: Uuid,
    postings: &[(i64, &MoneyEffect)],
) -> Result<(), sqlx_core::Error> {
    #[derive(Default)]
    struct Posts {
        people: Vec<String>,
        amounts: Vec<i64>,
        references: Vec<String>,
        requires: Vec<Option<String>>,
        global_seqs: Vec<i64>,
    }
    let mut plain = Posts::default();
    let mut conditional = Posts::default();
    let (mut reverse_of, mut reverse_references, mut reverse_seqs) =
        (Vec::new(), Vec::new(), Vec::new());
    for (global_seq, effect) in postings {
        match effect {
            MoneyEffect::Post {
                person_id,
                amount,
                reference,
                requires,
            } => {
                let posts = if requires.is_some() {
                    &mut conditional
                } else {
                    &mut plain
                };
                posts.people.push(person_id.clone());
                posts.amounts.push(*amount);
                posts.references.push(reference.clone());
                posts.requires.push(requires.clone());
                posts.global_seqs.push(*global_seq);
            }
            MoneyEffect::Reverse { of, reference } => {
                reverse_of.push(of.clone());
                reverse_references.push(reference.clone());
                reverse_seqs.push(*global_seq);
            }
        }
    }
    if !plain.people.is_empty() {
        query(
            "INSERT INTO ledger (school_id, person_id, amount, reference, global_seq)
             SELECT $1, u.person_id, u.amount, u.reference, u.global_seq
             FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS u(person_id, amount, reference, global_seq)
             ON CONFLICT (school_id, reference) DO NOTHING",
        )
        .bind(school_id)
        .bind(&plain.people)
        .bind(&plain.amounts)
        .bind(&plain.references)
        .bind(&plain.global_seqs)
        .execute(&mut *tx)
        .await?;
    }
    if !conditional.people.is_empty() {
        query(
            "INSERT INTO ledger (school_id, person_id, amount, reference, global_seq)
             SELECT $1, u.person_id, u.amount, u.reference, u.global_seq
             FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
                  AS u(person_id, amount, reference, requires, global_seq)
             WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.school_id = $1 AND l.reference = u.requires)
             ON CONFLICT (school_id, reference) DO NOTHING",
        )
        .bind(school_id)
        .bind(&conditional.people)
        .bind(&conditional.amounts)
        .bind(&conditional.references)
        .bind(&conditional.requires)
        .bind(&conditional.global_seqs)
        .execute(&mut *tx)
        .await?;
    }
    if !reverse_of.is_empty() {
        query(
            "INSERT INTO ledger (school_id, person_id, amount, reference, global_seq)
             SELECT $1, l.person_id, -l.amount, u.reference, u.global_seq
             FROM UNNEST($2::text[], $3::text[], $4::bigint[]) AS u(of_reference, reference, global_seq)
             JOIN ledger l ON l.school_id = $1 AND l.reference = u.of_reference
             ON CONFLICT (school_id, reference) DO NOTHING",
        )
        .bind(school_id)
        .bind(&reverse_of)
        .bind(&reverse_references)
        .bind(&reverse_seqs)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records an alert unless the same one (kind, school, device, detail) is already there: a
/// device retrying a refused batch does not flood the alert list.
pub async fn record_alert(
    pool: &PgPool,
    kind: &str,
    school_id: Option<Uuid>,
    device_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    query(
        "INSERT INTO alerts (kind, school_id, device_id, detail) SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE kind = $1 AND school_id IS NOT DISTINCT FROM $2
                           AND device_id IS NOT DISTINCT FROM $3 AND detail = $4)",
    )
    .bind(kind)
    .bind(school_id)
    .bind(device_id)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// An event the server wrote itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    pub id: Uuid,
    pub origin: String,
    pub origin_seq: u64,
    pub global_seq: u64,
}

/// Appends an event authored by the server to a school's journal, under the school's
/// server origin ([`server_origin`]) with the next gap-free origin seq, in the caller's
/// transaction, and posts its money. It travels to the school's workstations by pull.
/// The server has seen every event before it (`seen_through`), so an edit of master data
/// made here is an informed one, never a concurrent edit.
pub async fn append_server_event(
    tx: &mut PgConnection,
    school_id: Uuid,
    kind: &str,
    payload: &str,
) -> Result<ServerEvent, ApiError> {
    append_server_event_as(tx, school_id, "server", kind, payload).await
}

/// [`append_server_event`] with the person it was written for as the event's `actor`
/// (`parent:<id>` for a parent's ban, limit or pre-order from the portal).
pub async fn append_server_event_as(
    tx: &mut PgConnection,
    school_id: Uuid,
    actor: &str,
    kind: &str,
    payload: &str,
) -> Result<ServerEvent, ApiError> {
    let id = Uuid::now_v7();
    let effect = money_effect(kind, &id.to_string(), payload).map_err(|error| {
        ApiError::bad_request(format!(
            "{kind}: the payload is not a valid money event: {error}"
        ))
    })?;
    let base = reserve_global_seqs(tx, 1).await?;
    let global_seq = base + 1;
    let origin = server_origin(&school_id.to_string());
    let origin_seq: i64 = query_scalar(
        "INSERT INTO server_origins (school_id, last_origin_seq) VALUES ($1, 1)
         ON CONFLICT (school_id) DO UPDATE SET last_origin_seq = server_origins.last_origin_seq + 1
         RETURNING last_origin_seq",
    )
    .bind(school_id)
    .fetch_one(&mut *tx)
    .await?;
    let occurred_at_us = chrono::Utc::now().timestamp_micros();
    query(
        "INSERT INTO events (global_seq, school_id, id, origin, origin_seq, occurred_at_us, actor, kind, payload, seen_through)
         VALUES ($1, $2, $3, $4, $5, $6, $9, $7, $8, $1 - 1)",
    )
    .bind(global_seq)
    .bind(school_id)
    .bind(id)
    .bind(&origin)
    .bind(origin_seq)
    .bind(occurred_at_us)
    .bind(kind)
    .bind(payload)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    if let Some(effect) = &effect {
        post_ledger(tx, school_id, &[(global_seq, effect)]).await?;
    }
    Ok(ServerEvent {
        id,
        origin,
        origin_seq: origin_seq as u64,
        global_seq: global_seq as u64,
    })
}

/// One page of a school's events after `after`, without the caller's own, read in one
/// snapshot (see the module docs for why no event is ever skipped).
///
/// `balances` holds, for each pupil with a ledger entry in `(after, cursor]`, the sum of
/// their entries up to `cursor` and the seq of the last of them: the balance as of the
/// page the device has just applied, never ahead of it.
pub async fn pull(
    pool: &PgPool,
    device: &Device,
    after: u64,
    limit: u32,
) -> Result<PullResponse, ApiError> {
    let after = i64::try_from(after)
        .map_err(|_| ApiError::bad_request("`after` is beyond the server's range"))?;
    let limit = limit.clamp(1, MAX_PULL_EVENTS);
    let mut tx = pool.begin().await?;
    query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    type Row = (i64, Uuid, String, i64, i64, String, String, String, i64);
    let mut rows: Vec<Row> = query_as(
        "SELECT global_seq, id, origin, origin_seq, occurred_at_us, actor, kind, payload, seen_through
         FROM events WHERE school_id = $1 AND global_seq > $2 AND origin <> $3
         ORDER BY global_seq LIMIT $4",
    )
    .bind(device.school_id)
    .bind(after)
    .bind(&device.id)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *tx)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let cursor: i64 = match rows.last() {
        Some(last) if more => last.0,
        // The whole rest of the school's journal was read: move past own events too.
        _ => query_scalar("SELECT coalesce(max(global_seq), $2) FROM events WHERE school_id = $1 AND global_seq > $2")
            .bind(device.school_id)
            .bind(after)
            .fetch_one(&mut *tx)
            .await?,
    };
    let balances: Vec<(String, i64, i64)> = if cursor > after {
        query_as(
            "SELECT person_id, sum(amount)::bigint, max(global_seq) FROM ledger
             WHERE school_id = $1 AND global_seq <= $3 AND person_id IN
               (SELECT person_id FROM ledger WHERE school_id = $1 AND global_seq > $2 AND global_seq <= $3)
             GROUP BY person_id ORDER BY person_id",
        )
        .bind(device.school_id)
        .bind(after)
        .bind(cursor)
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let events = rows
        .into_iter()
        .map(
            |(
                global_seq,
                id,
                origin,
                origin_seq,
                occurred_at_us,
                actor,
                kind,
                payload,
                seen_through,
            )| PulledEvent {
                global_seq: global_seq as u64,
                seen_through: seen_through as u64,
                event: WireEvent {
                    id: id.to_string(),
                    origin,
                    origin_seq: origin_seq as u64,
                    occurred_at_us,
                    actor,
                    kind,
                    payload,
                },
            },
        )
        .collect();
    Ok(PullResponse {
        events,
        cursor: cursor as u64,
        more,
        balances: balances
            .into_iter()
            .map(|(person_id, balance, position)| BalanceAt {
                person_id,
                balance,
                position: position as u64,
            })
            .collect(),
    })
}
