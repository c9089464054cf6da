-- The classroom hub: sessions, learners, their progress events, and what the instructor
-- sends to the class. Learners log in with a role of their own and see only their rows
-- (row-level security); the instructor is the owner of these tables and sees everything.

CREATE SCHEMA IF NOT EXISTS classroom;

-- Every learner role is a member of this one; grants go to it, never to PUBLIC.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'classroom_learner') THEN
        CREATE ROLE classroom_learner NOLOGIN;
    END IF;
    -- The login the join command uses: it may only call classroom.join().
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'classroom_gate') THEN
        CREATE ROLE classroom_gate LOGIN PASSWORD 'classroom_gate';
    END IF;
END
$$;

CREATE TABLE classroom.sessions (
    id              bigserial PRIMARY KEY,
    title           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- sha256 of the join code, upper case; the code itself is shown once, to the instructor.
    join_code_hash  text NOT NULL,
    code_expires_at timestamptz NOT NULL,
    -- Lessons unlocked up to this number (1-based); NULL: all of them.
    pace            integer CHECK (pace IS NULL OR pace >= 1),
    -- Time on one step after which a learner counts as stuck.
    stuck_after     interval NOT NULL DEFAULT interval '10 minutes'
);

CREATE TABLE classroom.learners (
    id           bigserial PRIMARY KEY,
    session_id   bigint NOT NULL REFERENCES classroom.sessions ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    role_name    name NOT NULL UNIQUE,
    joined_at    timestamptz NOT NULL DEFAULT now(),
    -- The learner lets the instructor's drills act on their own cluster.
    allow_drills boolean NOT NULL DEFAULT false,
    UNIQUE (session_id, name)
);

-- What each learner's app reports. `seq` is the learner's own counter: delivering the same
-- event twice (after a lost acknowledgement) inserts it once.
CREATE TABLE classroom.events (
    id          bigserial PRIMARY KEY,
    learner_id  bigint NOT NULL REFERENCES classroom.learners ON DELETE CASCADE,
    seq         bigint NOT NULL CHECK (seq >= 1),
    kind        text NOT NULL CHECK (kind IN (
                    'lesson_opened', 'step_opened', 'checked', 'passed', 'hint',
                    'solved_with_help', 'drill')),
    lesson      text,
    step        text,
    detail      jsonb NOT NULL DEFAULT '{}',
    happened_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (learner_id, seq)
);

-- One row per learner, kept by a trigger on events: the roster reads this, not the events.
CREATE TABLE classroom.learner_state (
    learner_id     bigint PRIMARY KEY REFERENCES classroom.learners ON DELETE CASCADE,
    lesson         text,
    step           text,
    step_since     timestamptz,
    last_seen      timestamptz,
    steps_passed   integer NOT NULL DEFAULT 0,
    steps_helped   integer NOT NULL DEFAULT 0,
    hints          integer NOT NULL DEFAULT 0,
    checks         integer NOT NULL DEFAULT 0,
    -- lesson id → steps done in it
    lessons_done   jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE classroom.broadcasts (
    id         bigserial PRIMARY KEY,
    session_id bigint NOT NULL REFERENCES classroom.sessions ON DELETE CASCADE,
    message    text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE classroom.drills (
    id         bigserial PRIMARY KEY,
    session_id bigint NOT NULL REFERENCES classroom.sessions ON DELETE CASCADE,
    -- What every learner's app does to its own cluster: kill-primary, stop-replica, …
    action     text NOT NULL,
    note       text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL DEFAULT now()
);

-- The learner whose role is logged in; NULL for anyone else (the instructor).
-- Run as the caller, not the owner: inside a SECURITY DEFINER function current_user is the
-- owner, and a learner may read their own learners row anyway.
CREATE FUNCTION classroom.me() RETURNS bigint
LANGUAGE sql STABLE SET search_path = classroom, pg_temp AS $$
    SELECT id FROM classroom.learners WHERE role_name = current_user
$$;

CREATE FUNCTION classroom.my_session() RETURNS bigint
LANGUAGE sql STABLE SET search_path = classroom, pg_temp AS $$
    SELECT session_id FROM classroom.learners WHERE role_name = current_user
$$;

-- learner_state follows the events as they arrive. Queued events arrive late and in bursts,
-- so the position only moves forward in time, and a step passed twice counts once.
CREATE FUNCTION classroom.track_learner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    first_time boolean;
BEGIN
    -- Earlier rows only (id < NEW.id): of two equal events in one statement, the first counts.
    -- Only outcomes are counted once; other kinds never look back.
    first_time := NEW.kind IN ('passed', 'solved_with_help') AND NOT EXISTS (
        SELECT 1 FROM classroom.events e
        WHERE e.learner_id = NEW.learner_id AND e.id < NEW.id AND e.kind = NEW.kind
          AND e.lesson IS NOT DISTINCT FROM NEW.lesson AND e.step IS NOT DISTINCT FROM NEW.step);

    UPDATE classroom.learner_state s SET
        last_seen = greatest(s.last_seen, NEW.happened_at),
        lesson = CASE WHEN NEW.kind IN ('lesson_opened', 'step_opened')
                       AND NEW.happened_at >= coalesce(s.step_since, '-infinity')
                      THEN coalesce(NEW.lesson, s.lesson) ELSE s.lesson END,
        step = CASE WHEN NEW.kind IN ('lesson_opened', 'step_opened')
                     AND NEW.happened_at >= coalesce(s.step_since, '-infinity')
                    THEN NEW.step ELSE s.step END,
        step_since = CASE WHEN NEW.kind IN ('lesson_opened', 'step_opened')
                           AND NEW.happened_at >= coalesce(s.step_since, '-infinity')
                          THEN NEW.happened_at ELSE s.step_since END,
        checks = s.checks + CASE WHEN NEW.kind = 'checked' THEN 1 ELSE 0 END,
        hints = s.hints + CASE WHEN NEW.kind = 'hint' THEN 1 ELSE 0 END,
        steps_passed = s.steps_passed
            + CASE WHEN NEW.kind = 'passed' AND first_time THEN 1 ELSE 0 END,
        steps_helped = s.steps_helped
            + CASE WHEN NEW.kind = 'solved_with_help' AND first_time THEN 1 ELSE 0 END
    WHERE s.learner_id = NEW.learner_id;

    -- A step counts as done in its lesson once, whether passed or solved with help.
    IF NEW.kind IN ('passed', 'solved_with_help') AND NEW.lesson IS NOT NULL
       AND NOT EXISTS (
           SELECT 1 FROM classroom.events e
           WHERE e.learner_id = NEW.learner_id AND e.id < NEW.id
             AND e.kind IN ('passed', 'solved_with_help')
             AND e.lesson = NEW.lesson AND e.step IS NOT DISTINCT FROM NEW.step) THEN
        UPDATE classroom.learner_state s SET
            lessons_done = jsonb_set(s.lessons_done, ARRAY[NEW.lesson],
                to_jsonb(coalesce((s.lessons_done ->> NEW.lesson)::integer, 0) + 1))
        WHERE s.learner_id = NEW.learner_id;
    END IF;
    RETURN NULL;
END
$$;

-- What the look-backs above search: a learner's outcomes, per step.
CREATE INDEX events_outcomes ON classroom.events (learner_id, lesson, step)
    WHERE kind IN ('passed', 'solved_with_help');

CREATE TRIGGER events_track AFTER INSERT ON classroom.events
    FOR EACH ROW EXECUTE FUNCTION classroom.track_learner();

-- The roster listens on classroom_events; the payload is the session the events belong to.
-- Once per statement, so a learner delivering a queue of 500 events wakes it once.
CREATE FUNCTION classroom.notify_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sid bigint;
BEGIN
    FOR sid IN
        SELECT DISTINCT l.session_id
        FROM new_events e JOIN classroom.learners l ON l.id = e.learner_id
    LOOP
        PERFORM pg_notify('classroom_events', sid::text);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON classroom.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION classroom.notify_events();

-- Learners' apps listen on classroom_session_<id>; the payload is '<kind>:<id>': the new
-- broadcast's or drill's id, or for pace the session's id (its new pace is in sessions.pace).
CREATE FUNCTION classroom.notify_session() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('classroom_session_' || NEW.id, 'pace:' || NEW.id);
    ELSE
        PERFORM pg_notify('classroom_session_' || NEW.session_id,
                          TG_ARGV[0] || ':' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER broadcasts_notify AFTER INSERT ON classroom.broadcasts
    FOR EACH ROW EXECUTE FUNCTION classroom.notify_session('broadcast');
CREATE TRIGGER drills_notify AFTER INSERT ON classroom.drills
    FOR EACH ROW EXECUTE FUNCTION classroom.notify_session('drill');
CREATE TRIGGER sessions_pace_notify AFTER UPDATE OF pace ON classroom.sessions
    FOR EACH ROW WHEN (OLD.pace IS DISTINCT FROM NEW.pace)
    EXECUTE FUNCTION classroom.notify_session('pace');
