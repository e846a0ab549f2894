-- The municipality's and the supplier's views (issue 7): aggregates projected from the
-- journal by `analytics::project_pending` past its own cursor. They hold no pupil's name,
-- so an analyst reading them sees numbers, classes and schools only.

-- An analyst reads aggregates; a supplier reads the orders of the schools it feeds.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('municipal_admin', 'municipal_analyst', 'school_admin', 'supplier'));
CREATE TABLE supplier_schools (
    user_id uuid NOT NULL REFERENCES users (id),
    school_id uuid NOT NULL REFERENCES schools (id),
    PRIMARY KEY (user_id, school_id)
);

CREATE TABLE analytics_classes (
    school_id uuid NOT NULL,
    class_id text NOT NULL,
    grade int NOT NULL,
    letter text NOT NULL,
    PRIMARY KEY (school_id, class_id)
);
-- Each pupil's class now (the class of a day's attendance and meals is taken then).
CREATE TABLE analytics_pupils (
    school_id uuid NOT NULL,
    person_id text NOT NULL,
    class_id text,
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (school_id, person_id)
);
CREATE TABLE analytics_complexes (
    school_id uuid NOT NULL,
    complex_id text NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (school_id, complex_id)
);
-- A pupil who came in through the gate on a school day, in the class they were in.
CREATE TABLE attendance_days (
    school_id uuid NOT NULL,
    school_date date NOT NULL,
    person_id text NOT NULL,
    class_id text,
    PRIMARY KEY (school_id, school_date, person_id)
);
-- The day's meal order per class and complex: entitled on the roster, ordered at the
-- cut-off (and after it: late arrivals, admins' corrections).
CREATE TABLE order_lines (
    school_id uuid NOT NULL,
    school_date date NOT NULL,
    class_id text NOT NULL,
    complex_id text NOT NULL,
    payer text NOT NULL,
    price bigint NOT NULL,
    entitled int NOT NULL,
    ordered_at_cut_off int NOT NULL,
    corrections int NOT NULL DEFAULT 0,
    ordered int NOT NULL,
    PRIMARY KEY (school_id, school_date, class_id, complex_id)
);
CREATE TABLE meals_served_days (
    school_id uuid NOT NULL,
    school_date date NOT NULL,
    class_id text NOT NULL DEFAULT '',
    complex_id text NOT NULL,
    payer text NOT NULL,
    price bigint NOT NULL,
    served int NOT NULL,
    PRIMARY KEY (school_id, school_date, class_id, complex_id, payer)
);
