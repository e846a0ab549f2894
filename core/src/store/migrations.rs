//! Forward-only schema migrations. Each entry runs once, in its own `BEGIN IMMEDIATE`
//! transaction that also records the new `user_version`. Never edit a released entry:
//! add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: the device, the journal and its chain head, the photo store, the first projections.
    r#"
CREATE TABLE device (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);

-- The event journal (DESIGN.md §3). `seq` is this file's local order, which the hash chain
-- follows; (origin, origin_seq) is the global identity of an event.
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    origin_seq INTEGER NOT NULL,
    occurred_at_us INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (origin, origin_seq)
);
CREATE INDEX journal_kind_time ON journal (kind, occurred_at_us);

-- The chain head after the last append: lets `verify` notice a deleted last row.
CREATE TABLE journal_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);

CREATE TRIGGER journal_is_append_only_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_is_append_only_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

-- Content-addressed photo bytes. Not a projection: rebuilds leave it alone.
CREATE TABLE photos (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    bytes BLOB NOT NULL
);

-- Projections: current state, rebuilt from the journal at will.
CREATE TABLE school (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL
);

CREATE TABLE classes (
    id TEXT PRIMARY KEY,
    grade INTEGER NOT NULL,
    letter TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX classes_active_name ON classes (grade, letter) WHERE archived = 0;

CREATE TABLE persons (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    surname TEXT NOT NULL,
    name TEXT NOT NULL,
    patronymic TEXT NOT NULL,
    search_key TEXT NOT NULL,
    class_id TEXT,
    status TEXT NOT NULL,
    external_id TEXT,
    birth_date TEXT,
    phone TEXT,
    email TEXT,
    position TEXT,
    photo_sha256 TEXT,
    enrolled_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX persons_class ON persons (class_id, surname, name);
CREATE INDEX persons_kind_name ON persons (kind, surname, name);
CREATE UNIQUE INDEX persons_external ON persons (kind, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE guardianship (
    guardian_id TEXT NOT NULL,
    pupil_id TEXT NOT NULL,
    relation TEXT NOT NULL,
    PRIMARY KEY (guardian_id, pupil_id)
);
CREATE INDEX guardianship_pupil ON guardianship (pupil_id);

-- One row per physical card ever seen. `person_id` is NULL once the card is returned.
CREATE TABLE cards (
    card_key TEXT PRIMARY KEY,
    bits INTEGER NOT NULL,
    low24 INTEGER NOT NULL,
    person_id TEXT,
    state TEXT NOT NULL,
    raw TEXT NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE INDEX cards_low24 ON cards (low24);
CREATE INDEX cards_person ON cards (person_id);

CREATE TABLE staff_accounts (
    person_id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    pin_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_us INTEGER,
    last_sign_in_us INTEGER
);

CREATE TABLE roster_imports (
    sha256 TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    imported_at_us INTEGER NOT NULL
);
"#,
    // 2: the demo flag of the school; who has held each card, so a person's card list
    // keeps the cards they gave back. For a database written before, the holdings are
    // filled from the journal exactly as `projection::apply` would have: a (card, person)
    // row comes from the pair's latest `card_bound`, and is released by the first later
    // event that takes the card away (bound to someone else, returned, or the holder
    // left the school). Old `school_configured` events have no demo flag: 0 is right.
    r#"
ALTER TABLE school ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;

-- One row per card and person who held it: `raw` as it was typed or read when bound to
-- them, `released_at_us` NULL while they hold it.
CREATE TABLE card_holdings (
    card_key TEXT NOT NULL,
    person_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    bound_at_us INTEGER NOT NULL,
    released_at_us INTEGER,
    PRIMARY KEY (card_key, person_id)
);
CREATE INDEX card_holdings_person ON card_holdings (person_id);

CREATE TEMP TABLE card_moves AS
SELECT seq, occurred_at_us AS at_us, kind,
       json_extract(payload, '$.card') AS card_key,
       json_extract(payload, '$.person_id') AS person_id,
       coalesce(json_extract(payload, '$.raw'), '') AS raw
FROM journal
WHERE kind = 'card_bound'
   OR (kind = 'card_state_changed' AND json_extract(payload, '$.state') = 'returned')
   OR (kind = 'person_status_changed' AND json_extract(payload, '$.status') = 'left');
CREATE INDEX temp.card_moves_card ON card_moves (card_key, seq);
CREATE INDEX temp.card_moves_person ON card_moves (person_id, seq);

INSERT INTO card_holdings (card_key, person_id, raw, bound_at_us, released_at_us)
SELECT b.card_key, b.person_id, b.raw, b.at_us,
       (SELECT m.at_us FROM card_moves m WHERE m.seq = (SELECT min(seq) FROM (
            SELECT min(o.seq) AS seq FROM card_moves o
            WHERE o.card_key = b.card_key AND o.seq > b.seq
              AND (o.kind = 'card_state_changed' OR o.person_id != b.person_id)
            UNION ALL
            SELECT min(l.seq) FROM card_moves l
            WHERE l.person_id = b.person_id AND l.seq > b.seq AND l.kind = 'person_status_changed')))
FROM card_moves b
WHERE b.kind = 'card_bound'
  AND b.seq = (SELECT max(a.seq) FROM card_moves a
               WHERE a.kind = 'card_bound' AND a.card_key = b.card_key AND a.person_id = b.person_id);

DROP TABLE temp.card_moves;
"#,
    // 3: the readers and gates of each workstation (`origin` of their events): the spec as
    // the event's JSON, read back whole.
    r#"
CREATE TABLE peripherals (
    id TEXT PRIMARY KEY,
    workstation TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX peripherals_workstation ON peripherals (workstation, name);
"#,
    // 4: secrets of this workstation's hardware (the OSDP site key its readers are given).
    // Not a projection, and never journaled: the journal travels to the server.
    r#"
CREATE TABLE local_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created_at_us INTEGER NOT NULL
);
"#,
    // 5: passages at the gates and what they make: who is inside now, each day's
    // attendance, admins' corrections of it; the emergency unlock's state.
    r#"
CREATE TABLE passages (
    passage_id TEXT PRIMARY KEY,
    at_us INTEGER NOT NULL,
    decided_at_us INTEGER NOT NULL,
    school_date TEXT NOT NULL,
    person_id TEXT,
    card_key TEXT,
    raw TEXT NOT NULL,
    reader_id TEXT,
    gate_id TEXT,
    direction TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    reason TEXT NOT NULL,
    flags TEXT NOT NULL,
    verified_by TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX passages_date ON passages (school_date, at_us);
CREATE INDEX passages_person ON passages (person_id, at_us);

-- The last confirmed passage of each person: inside (1) or out (0).
CREATE TABLE presence (
    person_id TEXT PRIMARY KEY,
    inside INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    gate_id TEXT
);
CREATE INDEX presence_inside ON presence (inside);

-- Confirmed passages per person and school day.
CREATE TABLE attendance_days (
    school_date TEXT NOT NULL,
    person_id TEXT NOT NULL,
    first_entry_us INTEGER,
    last_exit_us INTEGER,
    last_passage_us INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    exits INTEGER NOT NULL,
    PRIMARY KEY (school_date, person_id)
);

-- The access rules (calendar, bells, policy) as configured; none: the defaults.
CREATE TABLE access_rules (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    rules TEXT NOT NULL,
    configured_at_us INTEGER NOT NULL
);

-- Whether the gates stand unlocked for an emergency, since when and why.
CREATE TABLE emergency (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    active INTEGER NOT NULL,
    since_us INTEGER NOT NULL,
    source TEXT NOT NULL
);

CREATE TABLE attendance_corrections (
    school_date TEXT NOT NULL,
    person_id TEXT NOT NULL,
    mark TEXT NOT NULL,
    reason TEXT NOT NULL,
    corrected_at_us INTEGER NOT NULL,
    PRIMARY KEY (school_date, person_id)
);
"#,
    // 6: visitors' passes; the guard's note on a passage without a card.
    r#"
ALTER TABLE passages ADD COLUMN note TEXT NOT NULL DEFAULT '';

CREATE TABLE visitor_passes (
    pass_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    card_key TEXT NOT NULL,
    document TEXT NOT NULL,
    visiting TEXT NOT NULL,
    issued_at_us INTEGER NOT NULL,
    valid_until_us INTEGER NOT NULL,
    closed_at_us INTEGER
);
CREATE INDEX visitor_passes_person ON visitor_passes (person_id, closed_at_us);
CREATE INDEX visitor_passes_open ON visitor_passes (closed_at_us);
"#,
    // 7: roll-calls at the assembly point: who was inside, who has been seen.
    r#"
CREATE TABLE roll_calls (
    roll_call_id TEXT PRIMARY KEY,
    started_at_us INTEGER NOT NULL,
    ended_at_us INTEGER
);
CREATE TABLE roll_call_people (
    roll_call_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    present INTEGER NOT NULL DEFAULT 0,
    marked_at_us INTEGER,
    PRIMARY KEY (roll_call_id, person_id)
);
"#,
    // 8: what changed about cards and cardholders, in commit order, for the gate post's
    // in-memory index (`gatepost::holders`). A row names a person, a card, or neither
    // (a class changed: everything is read again). Pruned by the gates' writer. A person
    // enrolled is not logged: they reach a gate through a card, whose row is.
    r#"
CREATE TABLE holder_changes (
    seq INTEGER PRIMARY KEY,
    person_id TEXT,
    card_key TEXT
);
CREATE TRIGGER holder_changes_person_update AFTER UPDATE ON persons
BEGIN INSERT INTO holder_changes (person_id) VALUES (NEW.id); END;
CREATE TRIGGER holder_changes_person_delete AFTER DELETE ON persons
BEGIN INSERT INTO holder_changes (person_id) VALUES (OLD.id); END;
CREATE TRIGGER holder_changes_card_insert AFTER INSERT ON cards
BEGIN INSERT INTO holder_changes (card_key) VALUES (NEW.card_key); END;
CREATE TRIGGER holder_changes_card_update AFTER UPDATE ON cards
BEGIN
    INSERT INTO holder_changes (card_key) VALUES (NEW.card_key);
    INSERT INTO holder_changes (card_key)
        SELECT OLD.card_key WHERE OLD.card_key IS NOT NEW.card_key;
END;
CREATE TRIGGER holder_changes_card_delete AFTER DELETE ON cards
BEGIN INSERT INTO holder_changes (card_key) VALUES (OLD.card_key); END;
CREATE TRIGGER holder_changes_account_insert AFTER INSERT ON staff_accounts
BEGIN INSERT INTO holder_changes (person_id) VALUES (NEW.person_id); END;
CREATE TRIGGER holder_changes_account_roles AFTER UPDATE OF roles, person_id ON staff_accounts
BEGIN
    INSERT INTO holder_changes (person_id) VALUES (NEW.person_id);
    INSERT INTO holder_changes (person_id)
        SELECT OLD.person_id WHERE OLD.person_id IS NOT NEW.person_id;
END;
CREATE TRIGGER holder_changes_account_delete AFTER DELETE ON staff_accounts
BEGIN INSERT INTO holder_changes (person_id) VALUES (OLD.person_id); END;
CREATE TRIGGER holder_changes_visitor_insert AFTER INSERT ON visitor_passes
BEGIN INSERT INTO holder_changes (person_id) VALUES (NEW.person_id); END;
CREATE TRIGGER holder_changes_visitor_update AFTER UPDATE ON visitor_passes
BEGIN INSERT INTO holder_changes (person_id) VALUES (NEW.person_id); END;
CREATE TRIGGER holder_changes_visitor_delete AFTER DELETE ON visitor_passes
BEGIN INSERT INTO holder_changes (person_id) VALUES (OLD.person_id); END;
CREATE TRIGGER holder_changes_class_update AFTER UPDATE ON classes
BEGIN INSERT INTO holder_changes (person_id) VALUES (NULL); END;
CREATE TRIGGER holder_changes_class_delete AFTER DELETE ON classes
BEGIN INSERT INTO holder_changes (person_id) VALUES (NULL); END;
"#,
    // 9: the canteen (СОП): settings, catalogue, menus, benefits, parents' bans and
    // limits, pre-orders, balances, the day's meal order, meals served, buffet sales.
    // Money is i64 kopecks; dates are school dates (`YYYY-MM-DD`); whole values read
    // back as one (settings, allergens, bans, sale lines) are the event's JSON.
    r#"
CREATE TABLE canteen_settings (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    settings TEXT NOT NULL
);
CREATE TABLE canteen_products (
    product_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price INTEGER NOT NULL,
    category TEXT NOT NULL,
    allergens TEXT NOT NULL
);
CREATE TABLE canteen_complexes (
    complex_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    meal TEXT NOT NULL,
    grade_first INTEGER NOT NULL,
    grade_last INTEGER NOT NULL,
    price INTEGER NOT NULL,
    payer TEXT NOT NULL
);
CREATE TABLE canteen_menu (
    school_date TEXT NOT NULL,
    product_id TEXT NOT NULL,
    price INTEGER NOT NULL,
    PRIMARY KEY (school_date, product_id)
);
CREATE TABLE benefit_categories (
    category_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    meals TEXT NOT NULL
);
CREATE TABLE benefit_grants (
    grant_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    category_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    document TEXT NOT NULL,
    revoked_at_us INTEGER,
    revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX benefit_grants_person ON benefit_grants (person_id);
CREATE TABLE canteen_bans (
    ban_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    ban TEXT NOT NULL
);
CREATE INDEX canteen_bans_person ON canteen_bans (person_id);
CREATE TABLE canteen_limits (
    person_id TEXT PRIMARY KEY,
    daily_limit INTEGER NOT NULL
);
CREATE TABLE canteen_pre_orders (
    pre_order_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    complex_id TEXT NOT NULL,
    school_date TEXT NOT NULL,
    price INTEGER NOT NULL,
    placed_at_us INTEGER NOT NULL,
    cancelled_at_us INTEGER
);
CREATE INDEX canteen_pre_orders_date ON canteen_pre_orders (school_date, person_id);
-- A pupil's balance as this workstation knows it (every top-up, sale, refund,
-- pre-order and correction it holds).
CREATE TABLE canteen_accounts (
    person_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL
);
CREATE TABLE meal_orders (
    school_date TEXT PRIMARY KEY,
    cut_off_us INTEGER NOT NULL,
    made_at_us INTEGER NOT NULL
);
CREATE TABLE meal_order_lines (
    school_date TEXT NOT NULL,
    class_id TEXT NOT NULL,
    complex_id TEXT NOT NULL,
    price INTEGER NOT NULL,
    payer TEXT NOT NULL,
    entitled INTEGER NOT NULL,
    PRIMARY KEY (school_date, class_id, complex_id)
);
-- Who is on the order now: `source` is order, pre_order, late_arrival or admin.
CREATE TABLE meal_order_pupils (
    school_date TEXT NOT NULL,
    complex_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (school_date, complex_id, person_id)
);
CREATE TABLE meals_served (
    meal_id TEXT PRIMARY KEY,
    school_date TEXT NOT NULL,
    person_id TEXT NOT NULL,
    complex_id TEXT NOT NULL,
    price INTEGER NOT NULL,
    payer TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    origin TEXT NOT NULL,
    overridden TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX meals_served_day ON meals_served (school_date, person_id);
CREATE TABLE canteen_sales (
    sale_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    school_date TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    origin TEXT NOT NULL,
    total INTEGER NOT NULL,
    lines TEXT NOT NULL,
    refunded_at_us INTEGER,
    refund_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX canteen_sales_day ON canteen_sales (school_date, person_id);
"#,
    // 10: the cashiers' shifts at each till (the till is the event's origin).
    r#"
CREATE TABLE till_shifts (
    shift_id TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    cashier_id TEXT NOT NULL,
    opened_at_us INTEGER NOT NULL,
    closed_at_us INTEGER
);
CREATE INDEX till_shifts_origin ON till_shifts (origin, opened_at_us);
"#,
    // 11: sync with the central server (DESIGN.md §4). None of these is a projection: they
    // say where this file stands with the server, and a rebuild leaves them alone.
    r#"
-- The server this workstation is enrolled with (absent: standalone). The device secret
-- itself is a local secret (`local_secrets`, name 'sync.secret').
CREATE TABLE sync_config (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_url TEXT NOT NULL,
    school_id TEXT NOT NULL,
    school_name TEXT NOT NULL,
    enrolled_at_us INTEGER NOT NULL
);

-- How far each side has got: `cursor` is the last global seq of the server applied here
-- (moved in the same transaction as the events it covers); `acked_through` the highest
-- own origin_seq the server holds without a gap.
CREATE TABLE sync_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    cursor INTEGER NOT NULL DEFAULT 0,
    acked_through INTEGER NOT NULL DEFAULT 0,
    last_attempt_us INTEGER,
    last_success_us INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
INSERT INTO sync_state (singleton) VALUES (1);

-- The server's global place of this workstation's own master-data edits that are still
-- the last edit of their key, as pushes answered: a pulled edit of the same thing is
-- ordered against them.
CREATE TABLE sync_placements (
    origin_seq INTEGER PRIMARY KEY,
    global_seq INTEGER NOT NULL
);

-- Pulled events: their journal row here and their global place on the server.
CREATE TABLE sync_pulled (
    seq INTEGER PRIMARY KEY,
    global_seq INTEGER NOT NULL UNIQUE,
    seen_through INTEGER NOT NULL
);

-- The last edit of each piece of master data ('card:…', 'product:…'): this
-- workstation's own (by origin_seq) and the last pulled one (by global seq).
CREATE TABLE sync_keys (
    key TEXT PRIMARY KEY,
    own_origin_seq INTEGER,
    pulled_global_seq INTEGER,
    pulled_origin TEXT
);
CREATE INDEX sync_keys_own ON sync_keys (own_origin_seq);

-- From which own origin_seq on the events were written having seen the server up to
-- `cursor`: a push tells the server what its events' authors had seen.
CREATE TABLE sync_cursor_marks (
    from_origin_seq INTEGER PRIMARY KEY,
    cursor INTEGER NOT NULL
);

-- Journal rows kept but not applied to the projections: a pulled edit that server order
-- puts before this workstation's own later edit ('superseded'), or an event this build
-- cannot read ('unreadable', e.g. a kind from a newer version). Rebuilds skip them too.
CREATE TABLE sync_skipped (
    seq INTEGER PRIMARY KEY,
    reason TEXT NOT NULL
);

-- Concurrent edits of the same master data, settled by server order: listed, never
-- dropped. `winner_seq`/`loser_seq` are journal rows here.
CREATE TABLE sync_conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at_us INTEGER NOT NULL,
    key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    winner_seq INTEGER NOT NULL,
    loser_seq INTEGER NOT NULL
);

-- Balances on the server's ledger and the ledger position they reflect.
CREATE TABLE server_balances (
    person_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL,
    position INTEGER NOT NULL
);
"#,
    // 12: the library's projections: the catalogue's titles, the copies with their state,
    // and loans open and closed.
    r#"
CREATE TABLE library_titles (
    title_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    authors TEXT NOT NULL,          -- a JSON array of names
    isbn TEXT,                      -- ISBN-13 digits
    publisher TEXT NOT NULL,
    year INTEGER,
    subject TEXT NOT NULL,
    age_mark TEXT NOT NULL,         -- 0+, 6+, 12+, 16+, 18+
    search_key TEXT NOT NULL,       -- lower-cased title and authors, for the search
    saved_at_us INTEGER NOT NULL
);
CREATE INDEX library_titles_isbn ON library_titles (isbn);

CREATE TABLE library_copies (
    barcode TEXT PRIMARY KEY,
    title_id TEXT NOT NULL,
    location TEXT NOT NULL,
    item_type TEXT NOT NULL,        -- textbook, fiction, reference, other
    state TEXT NOT NULL,            -- on_shelf, on_loan, lost, written_off
    note TEXT NOT NULL DEFAULT '',
    added_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE INDEX library_copies_title ON library_copies (title_id);

-- `outcome` is NULL while the loan is open, then returned, lost or written_off.
CREATE TABLE library_loans (
    loan_id TEXT PRIMARY KEY,
    barcode TEXT NOT NULL,
    person_id TEXT NOT NULL,
    issued_at_us INTEGER NOT NULL,
    due TEXT NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    returned_at_us INTEGER,
    outcome TEXT,
    note TEXT NOT NULL DEFAULT '',
    -- When the reader was last reminded of this loan being overdue.
    noticed_at_us INTEGER
);
CREATE INDEX library_loans_person ON library_loans (person_id, returned_at_us);
CREATE INDEX library_loans_barcode ON library_loans (barcode, returned_at_us);
CREATE INDEX library_loans_open_due ON library_loans (due) WHERE returned_at_us IS NULL;
"#,
    // 13: the library's stocktakes (инвентаризация) and what each one scanned.
    r#"
CREATE TABLE stocktakes (
    stocktake_id TEXT PRIMARY KEY,
    scope_location TEXT NOT NULL,   -- '' for the whole library
    started_at_us INTEGER NOT NULL,
    started_by TEXT NOT NULL,       -- the journal's actor
    closed_at_us INTEGER
);

-- One row per barcode per stocktake: the shelf where it was scanned last.
CREATE TABLE stocktake_scans (
    stocktake_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    location TEXT NOT NULL,
    first_scanned_at_us INTEGER NOT NULL,
    last_scanned_at_us INTEGER NOT NULL,
    times INTEGER NOT NULL,
    PRIMARY KEY (stocktake_id, barcode)
);
"#,
    // 14: the director's dashboard: the attendance trend reads a month of pupil-days from
    // the index alone, and the day's loans are found by when they were issued.
    r#"
CREATE INDEX attendance_days_trend
    ON attendance_days (school_date, person_id, first_entry_us, last_exit_us);
CREATE INDEX library_loans_issued ON library_loans (issued_at_us);
"#,
    // 15: which post each workstation serves, as its first-run wizard (or the admin) set it.
    r#"
CREATE TABLE workstation_posts (
    workstation TEXT PRIMARY KEY,
    post TEXT NOT NULL,
    name TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);
"#,
];

/// The tables `projection::apply` writes: emptied and refilled by a rebuild.
pub const PROJECTION_TABLES: &[&str] = &[
    "school",
    "classes",
    "persons",
    "guardianship",
    "cards",
    "card_holdings",
    "staff_accounts",
    "roster_imports",
    "peripherals",
    "passages",
    "presence",
    "attendance_days",
    "attendance_corrections",
    "emergency",
    "access_rules",
    "visitor_passes",
    "roll_calls",
    "roll_call_people",
    "canteen_settings",
    "canteen_products",
    "canteen_complexes",
    "canteen_menu",
    "benefit_categories",
    "benefit_grants",
    "canteen_bans",
    "canteen_limits",
    "canteen_pre_orders",
    "canteen_accounts",
    "meal_orders",
    "meal_order_lines",
    "meal_order_pupils",
    "meals_served",
    "canteen_sales",
    "till_shifts",
    "library_titles",
    "library_copies",
    "library_loans",
    "stocktakes",
    "stocktake_scans",
    "workstation_posts",
];
