-- The parent portal: projections of the journal that parents read (who is whose child,
-- the feed of each child's day, the canteen's catalogue, bans, limits and pre-orders),
-- parents' accounts, sessions and one-time codes, and notification settings.
-- Projections are written only by `projector::project_pending`, which moves
-- `projector_state` in the same transaction; they can be emptied and rebuilt from `events`.

CREATE TABLE projector_state (name text PRIMARY KEY, cursor bigint NOT NULL DEFAULT 0);
INSERT INTO projector_state (name) VALUES ('portal');

CREATE TABLE school_classes (school_id uuid NOT NULL, class_id text NOT NULL, grade int NOT NULL, letter text NOT NULL, archived boolean NOT NULL DEFAULT false, PRIMARY KEY (school_id, class_id));
CREATE TABLE school_persons (school_id uuid NOT NULL, person_id text NOT NULL, kind text NOT NULL /* pupil | guardian | staff */, surname text NOT NULL, name text NOT NULL, patronymic text NOT NULL DEFAULT '', class_id text, status text NOT NULL DEFAULT 'active', email text /* lower-cased, guardians' from PersonDetails */, PRIMARY KEY (school_id, person_id));
CREATE INDEX school_persons_email ON school_persons (email);
CREATE TABLE guardianship (school_id uuid NOT NULL, guardian_id text NOT NULL, pupil_id text NOT NULL, PRIMARY KEY (school_id, guardian_id, pupil_id));
-- What a parent reads about a child, one row per event and child, in global order.
CREATE TABLE feed (school_id uuid NOT NULL, person_id text NOT NULL, global_seq bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL /* entry | exit | meal | purchase | refund | top_up | correction | pre_order | pre_order_cancelled | ban | limit */, title text NOT NULL /* Russian, e.g. «Сок яблочный 0,2 л ×2» or «Обед (бесплатно)» */, amount bigint /* kopecks, signed: purchases negative */, details jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (global_seq, person_id));
CREATE INDEX feed_person ON feed (school_id, person_id, global_seq);
CREATE TABLE parents (id uuid PRIMARY KEY, email text NOT NULL UNIQUE /* lower-cased */, password_hash text, created_at timestamptz NOT NULL DEFAULT now());

-- The canteen as parents need it (the workstation's `canteen_*` projections, trimmed).
CREATE TABLE portal_products (
    school_id uuid NOT NULL,
    product_id text NOT NULL,
    name text NOT NULL,
    price bigint NOT NULL,
    category text NOT NULL,
    PRIMARY KEY (school_id, product_id)
);
CREATE TABLE portal_complexes (
    school_id uuid NOT NULL,
    complex_id text NOT NULL,
    name text NOT NULL,
    meal text NOT NULL,
    grade_first int NOT NULL,
    grade_last int NOT NULL,
    price bigint NOT NULL,
    payer text NOT NULL,
    PRIMARY KEY (school_id, complex_id)
);
CREATE TABLE portal_day_menus (
    school_id uuid NOT NULL,
    school_date date NOT NULL,
    items jsonb NOT NULL,
    PRIMARY KEY (school_id, school_date)
);
CREATE TABLE portal_canteen_settings (
    school_id uuid PRIMARY KEY,
    -- The day's meal order is made at this local time; pre-orders close then.
    order_cut_off time NOT NULL
);
CREATE TABLE portal_bans (
    school_id uuid NOT NULL,
    ban_id text NOT NULL,
    person_id text NOT NULL,
    target_kind text NOT NULL /* product | category | allergen */,
    target_value text NOT NULL,
    hours_from time,
    hours_to time,
    PRIMARY KEY (school_id, ban_id)
);
CREATE INDEX portal_bans_person ON portal_bans (school_id, person_id);
CREATE TABLE portal_limits (
    school_id uuid NOT NULL,
    person_id text NOT NULL,
    limit_kopecks bigint NOT NULL,
    PRIMARY KEY (school_id, person_id)
);
CREATE TABLE portal_pre_orders (
    school_id uuid NOT NULL,
    pre_order_id text NOT NULL,
    person_id text NOT NULL,
    complex_id text NOT NULL,
    school_date date NOT NULL,
    price bigint NOT NULL,
    cancelled boolean NOT NULL DEFAULT false,
    PRIMARY KEY (school_id, pre_order_id)
);
CREATE INDEX portal_pre_orders_person ON portal_pre_orders (school_id, person_id, school_date);

-- Parents' sessions: the cookie's token is random; only its SHA-256 is kept. A session
-- ends after 12 hours without a request, or at sign-out.
CREATE TABLE parent_sessions (
    token_hash text PRIMARY KEY,
    parent_id uuid NOT NULL REFERENCES parents (id),
    -- The session's CSRF token, echoed by every form.
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parent_sessions_parent ON parent_sessions (parent_id);

-- One-time sign-in codes: one live code per address, hashed with a salt, 10 minutes,
-- 5 attempts.
CREATE TABLE parent_codes (
    email text PRIMARY KEY,
    code_hash text NOT NULL,
    salt text NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts int NOT NULL DEFAULT 0
);

CREATE TABLE parent_notify_settings (
    parent_id uuid PRIMARY KEY REFERENCES parents (id),
    email_enabled bool NOT NULL DEFAULT true,
    webhook_url text,
    kinds text[] NOT NULL DEFAULT '{}',
    quiet_from time,
    quiet_to time,
    low_balance_threshold bigint
);
