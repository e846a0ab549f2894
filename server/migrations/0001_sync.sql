-- The central server's store: schools and their people who administer them, devices,
-- the journal of every school's events in one global order, and the money ledger.
-- `events`, `ledger` and `alerts` are append-only: the app role may only SELECT and
-- INSERT them (db-setup grants it so), so even a bug in the server cannot edit history.

CREATE TABLE schools (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    time_zone text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    login text NOT NULL UNIQUE,
    -- argon2id, PHC string.
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('municipal_admin', 'school_admin')),
    school_id uuid REFERENCES schools (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'school_admin') = (school_id IS NOT NULL))
);

CREATE TABLE sessions (
    -- SHA-256 (hex) of the bearer token; the token itself is never stored.
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE enrolment_codes (
    -- SHA-256 (hex) of the normalised code (upper case, no separators).
    code_hash text PRIMARY KEY,
    school_id uuid NOT NULL REFERENCES schools (id),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    used_by text
);

CREATE TABLE devices (
    -- The workstation's origin (`ws-…`), which its events carry.
    id text PRIMARY KEY,
    school_id uuid NOT NULL REFERENCES schools (id),
    name text NOT NULL DEFAULT '',
    -- SHA-256 (hex) of the 32-byte random secret handed out at enrolment.
    secret_hash text NOT NULL,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_seen_at timestamptz,
    app_version text NOT NULL DEFAULT '',
    protocol_version integer
);
CREATE INDEX devices_school ON devices (school_id);

-- The last global seq handed out; one row, updated under the push lock.
CREATE TABLE global_seq_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last bigint NOT NULL
);
INSERT INTO global_seq_counter (last) VALUES (0);

CREATE TABLE events (
    global_seq bigint PRIMARY KEY,
    school_id uuid NOT NULL REFERENCES schools (id),
    id uuid NOT NULL UNIQUE,
    origin text NOT NULL,
    origin_seq bigint NOT NULL CHECK (origin_seq >= 1),
    occurred_at_us bigint NOT NULL,
    actor text NOT NULL,
    kind text NOT NULL,
    -- The payload exactly as its author journaled it: a replay compares byte for byte.
    payload text NOT NULL,
    seen_through bigint NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (origin, origin_seq)
);
CREATE INDEX events_school_seq ON events (school_id, global_seq);

-- How far each origin's events are held without a hole.
CREATE TABLE device_heads (
    origin text PRIMARY KEY,
    acked_through bigint NOT NULL DEFAULT 0,
    -- The first missing seq an alert was raised for, so one hole raises one alert.
    gap_alerted_from bigint
);

CREATE TABLE alerts (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    school_id uuid REFERENCES schools (id),
    device_id text,
    detail jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_school ON alerts (school_id, at);

CREATE TABLE ledger (
    id bigserial PRIMARY KEY,
    school_id uuid NOT NULL REFERENCES schools (id),
    person_id text NOT NULL,
    -- Signed kopecks: negative takes money off the balance.
    amount bigint NOT NULL,
    -- What posted it (`sale:<id>`, `event:<id>`, …): each reference posts once.
    reference text NOT NULL,
    -- The global seq of the event that posted it.
    global_seq bigint NOT NULL,
    UNIQUE (school_id, reference)
);
CREATE INDEX ledger_person ON ledger (school_id, person_id);
CREATE INDEX ledger_school_seq ON ledger (school_id, global_seq);

-- The last origin_seq of the server's own events per school: gap-free, transactional.
CREATE TABLE server_origins (
    school_id uuid PRIMARY KEY REFERENCES schools (id),
    last_origin_seq bigint NOT NULL
);

CREATE TABLE payments (
    id uuid PRIMARY KEY,
    school_id uuid NOT NULL REFERENCES schools (id),
    person_id text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    provider text NOT NULL,
    provider_payment_id text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz,
    -- The server-authored `balance_topped_up` event a success appended.
    event_id uuid
);
