-- Who may do what on the hub. The instructor's login owns every table and so sees and changes
-- everything (row-level security does not apply to a table's owner, nor to superusers; it is
-- not FORCEd, because the functions below run as the owner and must see every row).
-- Learners, through the classroom_learner group, see and add only their own rows; the gate
-- login may only call classroom.join(). Nothing is granted to PUBLIC.

REVOKE ALL ON SCHEMA classroom FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA classroom FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA classroom FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA classroom FROM PUBLIC;
-- PUBLIC may execute a function from its creation on: a later migration that adds one
-- revokes that, as this one does.

GRANT USAGE ON SCHEMA classroom TO classroom_learner, classroom_gate;

-- Learners and the gate must be able to log in to this database even where CONNECT was
-- taken from PUBLIC; a hub login that does not own the database cannot grant it, and the
-- default (PUBLIC may connect) then applies.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO classroom_learner, classroom_gate',
                   current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'CONNECT on % not granted to the classroom roles: the hub login does not own it',
        current_database();
END
$$;

-- The policies call these as the learner.
GRANT EXECUTE ON FUNCTION classroom.me(), classroom.my_session() TO classroom_learner;

ALTER TABLE classroom.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.learners ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.learner_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.broadcasts ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.drills ENABLE ROW LEVEL SECURITY;
ALTER TABLE classroom.migrations ENABLE ROW LEVEL SECURITY;

-- `(SELECT classroom.me())` is evaluated once per statement, not once per row.

-- Their own session, without the join code's hash: column grants leave it out, so asking
-- for it is an error, not an empty value.
GRANT SELECT (id, title, created_at, code_expires_at, pace, stuck_after)
    ON classroom.sessions TO classroom_learner;
CREATE POLICY own_session ON classroom.sessions FOR SELECT TO classroom_learner
    USING (id = (SELECT classroom.my_session()));

-- Their own learners row; of it they may change only allow_drills.
GRANT SELECT ON classroom.learners TO classroom_learner;
GRANT UPDATE (allow_drills) ON classroom.learners TO classroom_learner;
CREATE POLICY own_learner_read ON classroom.learners FOR SELECT TO classroom_learner
    USING (role_name = current_user);
CREATE POLICY own_learner_update ON classroom.learners FOR UPDATE TO classroom_learner
    USING (role_name = current_user) WITH CHECK (role_name = current_user);

-- Their own events: read and add, never change or remove (no UPDATE or DELETE grant).
GRANT SELECT, INSERT ON classroom.events TO classroom_learner;
GRANT USAGE ON SEQUENCE classroom.events_id_seq TO classroom_learner;
CREATE POLICY own_events_read ON classroom.events FOR SELECT TO classroom_learner
    USING (learner_id = (SELECT classroom.me()));
CREATE POLICY own_events_add ON classroom.events FOR INSERT TO classroom_learner
    WITH CHECK (learner_id = (SELECT classroom.me()));

GRANT SELECT ON classroom.learner_state TO classroom_learner;
CREATE POLICY own_state ON classroom.learner_state FOR SELECT TO classroom_learner
    USING (learner_id = (SELECT classroom.me()));

-- What the instructor sent to their session.
GRANT SELECT ON classroom.broadcasts, classroom.drills TO classroom_learner;
CREATE POLICY own_broadcasts ON classroom.broadcasts FOR SELECT TO classroom_learner
    USING (session_id = (SELECT classroom.my_session()));
CREATE POLICY own_drills ON classroom.drills FOR SELECT TO classroom_learner
    USING (session_id = (SELECT classroom.my_session()));

-- Joining: checks the code, creates the learner's own login and their rows, and returns the
-- login's password once. Wrong and expired codes are both SQLSTATE 28000 (invalid
-- authorization), told apart by their messages; a taken name is 23505 (unique violation);
-- a name out of bounds is 22023 (invalid parameter value).
CREATE FUNCTION classroom.join(code text, name text)
RETURNS TABLE (learner_id bigint, role_name text, password text, session_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    s_id      bigint;
    s_expires timestamptz;
    l_id      bigint;
    l_name    text := btrim(coalesce(name, ''));
    l_role    text;
    l_pass    text;
BEGIN
    SELECT s.id, s.code_expires_at INTO s_id, s_expires
    FROM classroom.sessions s
    WHERE s.join_code_hash = encode(sha256(convert_to(upper(btrim(coalesce(code, ''))), 'UTF8')), 'hex')
    ORDER BY s.id DESC LIMIT 1;
    IF s_id IS NULL THEN
        RAISE EXCEPTION 'the join code is wrong'
            USING ERRCODE = '28000',
                  HINT = 'check the code the instructor gave: 8 letters and digits';
    END IF;
    IF s_expires <= now() THEN
        RAISE EXCEPTION 'the join code has expired'
            USING ERRCODE = '28000',
                  HINT = 'ask the instructor for a new code (replica-lab classroom host issues one)';
    END IF;
    IF length(l_name) NOT BETWEEN 1 AND 64 THEN
        RAISE EXCEPTION 'a learner''s name has 1 to 64 characters'
            USING ERRCODE = '22023', HINT = 'choose another --name';
    END IF;
    IF EXISTS (SELECT 1 FROM classroom.learners l WHERE l.session_id = s_id AND l.name = l_name) THEN
        RAISE EXCEPTION 'the name % is taken in this class', l_name
            USING ERRCODE = '23505', HINT = 'choose another --name';
    END IF;

    l_id := nextval('classroom.learners_id_seq');
    -- Roles belong to the whole server: the database's mark keeps two hubs on one server apart.
    l_role := 'rl_learner_' || l_id || '_' || substr(md5(current_database()), 1, 6);
    -- gen_random_uuid draws from the server's strong random source: 244 random bits.
    l_pass := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    BEGIN
        INSERT INTO classroom.learners (id, session_id, name, role_name)
        VALUES (l_id, s_id, l_name, l_role);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'the name % is taken in this class', l_name
            USING ERRCODE = '23505', HINT = 'choose another --name';
    END;
    INSERT INTO classroom.learner_state (learner_id) VALUES (l_id);
    -- Run from here, the statement (and so the password) is not written to the server's log
    -- by log_statement, which logs only what clients send.
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE classroom_learner', l_role, l_pass);

    RETURN QUERY SELECT l_id, l_role, l_pass, s_id;
END
$$;

REVOKE ALL ON FUNCTION classroom.join(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION classroom.join(text, text) TO classroom_gate;
