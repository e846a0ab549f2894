-- PLACEHOLDER of the portal's contract (the portal branch owns this file; its version wins
-- at merge). The tables the notifier reads.
CREATE TABLE projector_state (name text PRIMARY KEY, cursor bigint NOT NULL DEFAULT 0);
CREATE TABLE school_classes (school_id uuid NOT NULL, class_id text NOT NULL, grade int NOT NULL, letter text NOT NULL, archived boolean NOT NULL DEFAULT false, PRIMARY KEY (school_id, class_id));
CREATE TABLE school_persons (school_id uuid NOT NULL, person_id text NOT NULL, kind text NOT NULL, surname text NOT NULL, name text NOT NULL, patronymic text NOT NULL DEFAULT '', class_id text, status text NOT NULL DEFAULT 'active', email text, PRIMARY KEY (school_id, person_id));
CREATE INDEX school_persons_email ON school_persons (email);
CREATE TABLE guardianship (school_id uuid NOT NULL, guardian_id text NOT NULL, pupil_id text NOT NULL, PRIMARY KEY (school_id, guardian_id, pupil_id));
CREATE TABLE feed (school_id uuid NOT NULL, person_id text NOT NULL, global_seq bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, title text NOT NULL, amount bigint, details jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (global_seq, person_id));
CREATE INDEX feed_person ON feed (school_id, person_id, global_seq);
CREATE TABLE parents (id uuid PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE parent_notify_settings (parent_id uuid PRIMARY KEY REFERENCES parents (id), email_enabled bool NOT NULL DEFAULT true, webhook_url text, kinds text[] NOT NULL DEFAULT '{entry,exit,meal,purchase,low_balance}', quiet_from time, quiet_to time, low_balance_threshold bigint NOT NULL DEFAULT 10000);
