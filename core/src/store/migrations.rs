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
];

/// The tables `projection::apply` writes: emptied and refilled by a rebuild.
pub const PROJECTION_TABLES: &[&str] = &[
    "school",
    "classes",
    "persons",
    "guardianship",
    "cards",
    "staff_accounts",
    "roster_imports",
];
