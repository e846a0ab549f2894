-- The school library (Библиотека) as parents see it: the catalogue's titles, the copies
-- with where they are, and every loan, open or closed — projections of the workstations'
-- `book_*` events, written only by `projector::project_pending` (which moves
-- `projector_state('portal')` in the same transaction); they can be emptied and rebuilt
-- from `events`.

CREATE TABLE library_titles (
    school_id uuid NOT NULL,
    title_id text NOT NULL,
    title text NOT NULL,
    authors text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (school_id, title_id)
);
-- One copy under its inventory barcode (инвентарный номер), unique in the school.
CREATE TABLE library_copies (
    school_id uuid NOT NULL,
    barcode text NOT NULL,
    title_id text NOT NULL,
    state text NOT NULL DEFAULT 'on_shelf' /* on_shelf | on_loan | lost | written_off */,
    PRIMARY KEY (school_id, barcode)
);
CREATE TABLE library_loans (
    school_id uuid NOT NULL,
    loan_id text NOT NULL,
    barcode text NOT NULL,
    person_id text NOT NULL,
    issued_at timestamptz NOT NULL,
    due date NOT NULL /* the school's date */,
    renewals int NOT NULL DEFAULT 0,
    -- Open while NULL; closed by a return, or by the copy marked lost or written off.
    returned_at timestamptz,
    outcome text /* returned | lost | written_off */,
    -- The global seq of the last event applied to the loan: a replay of the journal over
    -- the projection applies nothing twice (a renewal counts once).
    last_seq bigint NOT NULL,
    PRIMARY KEY (school_id, loan_id)
);
CREATE INDEX library_loans_person ON library_loans (school_id, person_id, returned_at);
CREATE INDEX library_loans_open_copy ON library_loans (school_id, barcode) WHERE returned_at IS NULL;
