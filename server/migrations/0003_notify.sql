-- Notifications to parents (issue 7): an outbox filled from the children's feed and the
-- ledger, delivered by e-mail and by signed webhooks, with retries, in order per child.

-- The key a parent's webhook deliveries are signed with (HMAC-SHA256), shown to them once.
ALTER TABLE parent_notify_settings ADD COLUMN webhook_secret text;

CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    parent_id uuid NOT NULL REFERENCES parents (id),
    school_id uuid NOT NULL,
    person_id text NOT NULL,
    -- The fact told of: its feed row's (or its money event's) global seq. A stream — one
    -- parent, channel and child — is delivered in this order.
    global_seq bigint NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
    kind text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    -- What a webhook receives.
    payload jsonb NOT NULL,
    -- One notification per parent, channel, child and fact, however often enqueued.
    dedup_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts int NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    -- After too many failures the stream moves on; the row stays, with its last error.
    given_up_at timestamptz,
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX notifications_pending ON notifications (parent_id, channel, school_id, person_id, global_seq)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

-- Whether a child's balance was below the parent's threshold at the last money fact:
-- a low-balance notice goes once per crossing.
CREATE TABLE low_balance_state (
    parent_id uuid NOT NULL REFERENCES parents (id),
    school_id uuid NOT NULL,
    person_id text NOT NULL,
    below boolean NOT NULL,
    PRIMARY KEY (parent_id, school_id, person_id)
);
