-- A child's day in the feed (the portal's dashboard and day view) is read by time, not
-- by global order: an index that goes straight to the day instead of the whole year.
CREATE INDEX feed_person_at ON feed (school_id, person_id, at);
