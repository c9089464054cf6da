-- The hub does not take a learner's app at its word: whatever a learner's login can send, an
-- event is taken only when it names a lesson and step of the class's catalogue, happened
-- within a sane window of the hub's clock, carries a small detail, and comes at a human
-- pace. Each refusal has a SQLSTATE of its own, in class RL (an implementation-defined
-- class: PostgreSQL uses none starting with R), so the learner's app can tell a refused
-- event (dropped) from a hub that is busy or away (tried again):
--
--   RL001  the event's lesson is not in the class's catalogue (or it names none)
--   RL002  the event's step is not a step of that lesson there (or it names none)
--   RL003  the event's time is more than 5 minutes ahead of the hub's clock, or before the
--          learner joined the class (less 5 minutes for their clock)
--   RL004  the event's detail is over 4096 bytes (as JSON text)
--   RL005  more than 300 events from one learner in one 10-second window
--
-- src/classroom/guard.rs holds the same numbers; a unit test there keeps the two in step.

-- The class's catalogue: the lessons and steps of the replica-lab that opened the session,
-- written by `classroom host` (classroom.set_catalogue below).
CREATE TABLE classroom.catalogue_lessons (
    session_id bigint NOT NULL REFERENCES classroom.sessions ON DELETE CASCADE,
    lesson     text NOT NULL CHECK (length(lesson) BETWEEN 1 AND 200),
    position   integer NOT NULL CHECK (position >= 1),
    PRIMARY KEY (session_id, lesson)
);

CREATE TABLE classroom.catalogue_steps (
    session_id bigint NOT NULL,
    lesson     text NOT NULL,
    step       text NOT NULL CHECK (length(step) BETWEEN 1 AND 200),
    position   integer NOT NULL CHECK (position >= 1),
    PRIMARY KEY (session_id, lesson, step),
    FOREIGN KEY (session_id, lesson) REFERENCES classroom.catalogue_lessons ON DELETE CASCADE
);

-- The rate limit's count: events taken from each learner in their current window.
CREATE TABLE classroom.event_budget (
    learner_id   bigint PRIMARY KEY REFERENCES classroom.learners ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    used         integer NOT NULL
);

-- Nothing here is a learner's to read or change; the owner's functions use them.
ALTER TABLE classroom.catalogue_lessons ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.catalogue_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.event_budget ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON classroom.catalogue_lessons, classroom.catalogue_steps, classroom.event_budget
    FROM PUBLIC;

-- Replaces the catalogue of one session: lessons in teaching order, and each step as a
-- (lesson, step) pair in its lesson's order. Run as the instructor (it is not granted to
-- learners); returns the number of steps written.
CREATE FUNCTION classroom.set_catalogue(
    p_session bigint, p_lessons text[], p_step_lessons text[], p_steps text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written integer;
BEGIN
    IF cardinality(p_step_lessons) IS DISTINCT FROM cardinality(p_steps) THEN
        RAISE EXCEPTION 'a catalogue''s steps come as (lesson, step) pairs: % lessons for % steps',
            cardinality(p_step_lessons), cardinality(p_steps)
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM classroom.catalogue_lessons WHERE session_id = p_session;
    INSERT INTO classroom.catalogue_lessons (session_id, lesson, position)
    SELECT p_session, u.lesson, u.n
    FROM unnest(p_lessons) WITH ORDINALITY AS u(lesson, n);
    INSERT INTO classroom.catalogue_steps (session_id, lesson, step, position)
    SELECT p_session, u.lesson, u.step,
           row_number() OVER (PARTITION BY u.lesson ORDER BY u.n)
    FROM unnest(p_step_lessons, p_steps) WITH ORDINALITY AS u(lesson, step, n);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;

-- Learner text quoted in a refusal: short, and with control characters shown as `?`, since
-- the message reaches the server's log and the learner's screen.
CREATE FUNCTION classroom.shown(value text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT quote_literal(regexp_replace(left(value, 60),
        '[\x01-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]', '?', 'g'))
$$;

-- Runs before each event is stored, as the owner (a learner may read neither the catalogue
-- nor the budget).
CREATE FUNCTION classroom.guard_event() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    l_session bigint;
    l_joined  timestamptz;
    l_role    name;
    bytes     integer;
    spent     integer;
BEGIN
    SELECT l.session_id, l.joined_at, l.role_name INTO l_session, l_joined, l_role
    FROM classroom.learners l WHERE l.id = NEW.learner_id;
    IF NOT FOUND THEN
        RETURN NEW; -- the foreign key refuses it
    END IF;
    -- A learner posting as another: row-level security refuses it after this trigger, and
    -- nothing here may speak of the other learner's class first. (current_user is the
    -- owner in here; session_user is the login that sent the statement.)
    IF l_role <> session_user
       AND EXISTS (SELECT 1 FROM classroom.learners x WHERE x.role_name = session_user) THEN
        RETURN NEW;
    END IF;
    -- Sent again after a lost acknowledgement: it was judged the first time, and
    -- ON CONFLICT skips it.
    IF EXISTS (SELECT 1 FROM classroom.events e
               WHERE e.learner_id = NEW.learner_id AND e.seq = NEW.seq) THEN
        RETURN NEW;
    END IF;

    IF NEW.lesson IS NULL THEN
        IF NEW.kind <> 'drill' THEN
            RAISE EXCEPTION 'a % event must name its lesson', NEW.kind
                USING ERRCODE = 'RL001';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM classroom.catalogue_lessons c
                      WHERE c.session_id = l_session AND c.lesson = NEW.lesson) THEN
        RAISE EXCEPTION 'lesson % is not in this class''s catalogue', classroom.shown(NEW.lesson)
            USING ERRCODE = 'RL001',
                  HINT = 'the class follows the instructor''s lessons; events about others are refused';
    END IF;
    IF NEW.step IS NULL THEN
        IF NEW.kind NOT IN ('lesson_opened', 'drill') THEN
            RAISE EXCEPTION 'a % event must name its step', NEW.kind
                USING ERRCODE = 'RL002';
        END IF;
    ELSIF NEW.lesson IS NULL OR NOT EXISTS (
              SELECT 1 FROM classroom.catalogue_steps c
              WHERE c.session_id = l_session AND c.lesson = NEW.lesson AND c.step = NEW.step) THEN
        RAISE EXCEPTION 'step % is not a step of lesson % in this class''s catalogue',
            classroom.shown(NEW.step), coalesce(classroom.shown(NEW.lesson), '(none)')
            USING ERRCODE = 'RL002',
                  HINT = 'the class follows the instructor''s lessons; events about others are refused';
    END IF;

    -- 'infinity' is after every time and '-infinity' before: both are refused here.
    IF NEW.happened_at > now() + interval '5 minutes' THEN
        RAISE EXCEPTION 'the event''s time % is more than 5 minutes ahead of the hub''s clock',
            NEW.happened_at
            USING ERRCODE = 'RL003',
                  HINT = 'the clock of the learner''s machine is wrong';
    END IF;
    IF NEW.happened_at < l_joined - interval '5 minutes' THEN
        RAISE EXCEPTION 'the event''s time % is before the learner joined the class (%)',
            NEW.happened_at, l_joined
            USING ERRCODE = 'RL003',
                  HINT = 'the clock of the learner''s machine is wrong';
    END IF;

    bytes := octet_length(NEW.detail::text);
    IF bytes > 4096 THEN
        RAISE EXCEPTION 'the event''s detail has % bytes; the hub takes at most 4096', bytes
            USING ERRCODE = 'RL004';
    END IF;

    -- Last, so that only events taken count. A refused statement rolls its count back too.
    INSERT INTO classroom.event_budget AS b (learner_id, window_start, used)
    VALUES (NEW.learner_id, now(), 1)
    ON CONFLICT (learner_id) DO UPDATE SET
        window_start = CASE WHEN b.window_start <= now() - interval '10 seconds'
                            THEN now() ELSE b.window_start END,
        used = CASE WHEN b.window_start <= now() - interval '10 seconds'
                    THEN 1 ELSE b.used + 1 END
    RETURNING used INTO spent;
    IF spent > 300 THEN
        RAISE EXCEPTION 'more than 300 events from this learner within 10 seconds'
            USING ERRCODE = 'RL005',
                  HINT = 'send the rest a little later';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_guard BEFORE INSERT ON classroom.events
    FOR EACH ROW EXECUTE FUNCTION classroom.guard_event();

-- A learner's name is printed on the instructor's screen: no control characters, and none
-- of the marks that reorder text. Same SQLSTATE as the other bad names classroom.join()
-- refuses (22023).
CREATE FUNCTION classroom.guard_learner_name() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.name ~ '[\x01-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]' THEN
        RAISE EXCEPTION 'a learner''s name cannot hold control characters'
            USING ERRCODE = '22023', HINT = 'choose another --name';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER learners_name_guard BEFORE INSERT OR UPDATE OF name ON classroom.learners
    FOR EACH ROW EXECUTE FUNCTION classroom.guard_learner_name();

-- Learners name only the columns an event is made of: the hub numbers the rows and says
-- when it received them (a chosen id would collide with the rows of others to come).
REVOKE INSERT ON classroom.events FROM classroom_learner;
GRANT INSERT (learner_id, seq, kind, lesson, step, detail, happened_at)
    ON classroom.events TO classroom_learner;

REVOKE ALL ON FUNCTION classroom.set_catalogue(bigint, text[], text[], text[]),
    classroom.shown(text), classroom.guard_event(), classroom.guard_learner_name()
    FROM PUBLIC;
