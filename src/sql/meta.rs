//! psql-style backslash commands of the console: parsed here, answered with catalog queries
//! the session runs like any other SQL.

/// What a line of console input asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meta {
    /// Plain SQL, to send as it is.
    Sql(String),
    /// `\dt` (and `\d` without a name): the tables.
    ListTables,
    /// `\d NAME`: the columns of one relation; NAME as typed (`t`, `public.t`, `"Odd Name"`).
    Describe(String),
    /// `\x`
    ToggleExpanded,
    /// `\timing`
    ToggleTiming,
    /// `\conninfo`
    ConnInfo,
    /// `\connect URL` (or `\c URL`): a libpq-style URL or a `key=value` conninfo string, as
    /// typed (trimmed); checked with [`crate::sql::url::parse`] before use.
    Connect(String),
    /// A known command missing the argument it needs (`\c` alone): the whole input, trimmed,
    /// and how the command is used.
    MissingArgument { input: String, usage: &'static str },
    /// A backslash command the console does not know, or with arguments it does not take;
    /// the whole input, trimmed.
    Unknown(String),
}

impl Meta {
    /// The SQL to send for input that only asks the server: plain SQL as it is, `\dt` and
    /// `\d NAME` as their catalog queries. Any other command comes back as it was, for the
    /// caller to handle.
    pub fn into_sql(self) -> Result<String, Meta> {
        match self {
            Meta::Sql(sql) => Ok(sql),
            Meta::ListTables => Ok(list_tables_sql().to_string()),
            Meta::Describe(name) => Ok(describe_sql(&name)),
            other => Err(other),
        }
    }
}

/// Parses one input. Anything not starting with `\` (after blanks) is SQL, returned unchanged.
pub fn parse(input: &str) -> Meta {
    let trimmed = input.trim();
    let Some(command) = trimmed.strip_prefix('\\') else {
        return Meta::Sql(input.to_owned());
    };
    let (name, args) = match command.find(char::is_whitespace) {
        Some(at) => (&command[..at], command[at..].trim()),
        None => (command, ""),
    };
    // A habit from SQL: `\d t;` means `\d t`.
    let args = args.strip_suffix(';').map_or(args, str::trim_end);
    let unknown = || Meta::Unknown(trimmed.to_owned());
    match (name, args.is_empty()) {
        ("dt" | "dt+" | "d" | "d+", true) => Meta::ListTables,
        ("d" | "d+", false) => match single_name(args) {
            Some(name) => Meta::Describe(name.to_owned()),
            None => unknown(),
        },
        ("x", true) => Meta::ToggleExpanded,
        ("timing", true) => Meta::ToggleTiming,
        ("conninfo", true) => Meta::ConnInfo,
        ("c" | "connect", false) => Meta::Connect(args.to_owned()),
        ("c" | "connect", true) => Meta::MissingArgument {
            input: trimmed.to_owned(),
            usage: CONNECT_USAGE,
        },
        _ => unknown(),
    }
}

/// How `\connect` is used.
pub const CONNECT_USAGE: &str = "\\c postgresql://host:port,host:port/db?target_session_attrs=read-write \
     (also load_balance_hosts=random, application_name, connect_timeout), or key=value pairs: \
     \\c host=a,b port=1,2 target_session_attrs=read-only; user, password and database default \
     to the cluster's";

/// The query `\connect` runs on the new connection, to show where it landed.
pub fn connect_probe_sql() -> &'static str {
    "SELECT inet_server_addr(), inet_server_port(), pg_is_in_recovery()"
}

/// `args` when it is one (possibly schema-qualified, possibly quoted) name: no blank outside
/// double quotes, quotes closed.
fn single_name(args: &str) -> Option<&str> {
    let mut quoted = false;
    for c in args.chars() {
        match c {
            // A doubled quote inside a quoted name toggles twice: still inside.
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return None,
            _ => {}
        }
    }
    (!quoted).then_some(args)
}

/// `s` as an SQL string literal, safe whatever it holds: quotes doubled, and backslashes
/// doubled in an `E''` literal when there are any (so `standard_conforming_strings` does not
/// matter), as libpq's `PQescapeLiteral` does.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `\dt`: the tables on the search path, outside the system schemas, as psql lists them.
pub fn list_tables_sql() -> &'static str {
    "SELECT n.nspname AS \"Schema\",
       c.relname AS \"Name\",
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' END AS \"Type\",
       pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname <> 'pg_catalog'
  AND n.nspname !~ '^pg_toast'
  AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1, 2"
}

/// `\d NAME`: the columns of the relation, as psql shows them. The name goes to the server as
/// a `regclass` literal, which resolves it the way SQL does (search path, quoting), and a
/// missing relation yields the server's own 42P01 error.
pub fn describe_sql(name: &str) -> String {
    format!(
        "SELECT a.attname AS \"Column\",
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS \"Type\",
       CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS \"Nullable\",
       CASE
         WHEN a.attidentity = 'a' THEN 'generated always as identity'
         WHEN a.attidentity = 'd' THEN 'generated by default as identity'
         WHEN a.attgenerated = 's'
           THEN 'generated always as (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) || ') stored'
         ELSE COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
       END AS \"Default\"
FROM pg_catalog.pg_attribute a
     LEFT JOIN pg_catalog.pg_attrdef d
            ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef
WHERE a.attrelid = {}::pg_catalog.regclass
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum",
        quote_literal(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sql_passes_through_unchanged() {
        assert_eq!(parse("SELECT 1"), Meta::Sql("SELECT 1".into()));
        assert_eq!(
            parse("  select '\\dt'\n"),
            Meta::Sql("  select '\\dt'\n".into())
        );
        assert_eq!(parse(""), Meta::Sql(String::new()));
    }

    #[test]
    fn querying_commands_become_their_sql_and_the_rest_come_back() {
        assert_eq!(parse("SELECT 1").into_sql(), Ok("SELECT 1".into()));
        assert_eq!(parse("\\dt").into_sql(), Ok(list_tables_sql().into()));
        assert_eq!(parse("\\d t").into_sql(), Ok(describe_sql("t")));
        assert_eq!(parse("\\x").into_sql(), Err(Meta::ToggleExpanded));
        assert_eq!(
            parse("\\c host=a").into_sql(),
            Err(Meta::Connect("host=a".into()))
        );
    }

    #[test]
    fn known_commands() {
        assert_eq!(parse("\\dt"), Meta::ListTables);
        assert_eq!(parse("  \\dt+  "), Meta::ListTables);
        assert_eq!(parse("\\d"), Meta::ListTables);
        assert_eq!(parse("\\x"), Meta::ToggleExpanded);
        assert_eq!(parse("\\timing"), Meta::ToggleTiming);
        assert_eq!(parse("\\conninfo\n"), Meta::ConnInfo);
    }

    #[test]
    fn connect_takes_a_url_or_conninfo_as_typed() {
        let url = "postgresql://u:pw@127.0.0.12:5433,127.0.0.11:5432/db?target_session_attrs=read-write&load_balance_hosts=random";
        assert_eq!(
            parse(&format!("\\connect {url}")),
            Meta::Connect(url.into())
        );
        assert_eq!(
            parse(&format!("  \\c   {url}  ")),
            Meta::Connect(url.into())
        );
        assert_eq!(parse(&format!("\\c {url};")), Meta::Connect(url.into()));
        assert_eq!(
            parse("\\c host=a,b port=1,2 target_session_attrs=read-write"),
            Meta::Connect("host=a,b port=1,2 target_session_attrs=read-write".into())
        );
        assert_eq!(
            parse("\\c host=a password='x y'"),
            Meta::Connect("host=a password='x y'".into())
        );
        // Checking the string is the caller's job: whatever follows is the argument.
        assert_eq!(parse("\\c mydb"), Meta::Connect("mydb".into()));
    }

    #[test]
    fn connect_without_an_argument_says_how_to_use_it() {
        for input in ["\\c", "\\connect", " \\c ; "] {
            let Meta::MissingArgument { input: got, usage } = parse(input) else {
                panic!("{input}: {:?}", parse(input));
            };
            assert_eq!(got, input.trim());
            assert!(usage.contains("postgresql://"), "{usage}");
            assert!(usage.contains("target_session_attrs"), "{usage}");
        }
        assert_eq!(parse("\\C x"), Meta::Unknown("\\C x".into()));
        assert_eq!(parse("\\cx"), Meta::Unknown("\\cx".into()));
    }

    #[test]
    fn describe_takes_one_name_as_typed() {
        assert_eq!(parse("\\d t"), Meta::Describe("t".into()));
        assert_eq!(
            parse("\\d+   public.t  "),
            Meta::Describe("public.t".into())
        );
        assert_eq!(parse("\\d t;"), Meta::Describe("t".into()));
        assert_eq!(
            parse("\\d \"odd \"\"name\""),
            Meta::Describe("\"odd \"\"name\"".into())
        );
        assert_eq!(
            parse("\\d \"My Schema\".\"My Table\""),
            Meta::Describe("\"My Schema\".\"My Table\"".into())
        );
        assert_eq!(parse("\\d a b"), Meta::Unknown("\\d a b".into()));
        assert_eq!(parse("\\d \"open"), Meta::Unknown("\\d \"open".into()));
    }

    #[test]
    fn unknown_commands_and_arguments_are_reported_whole() {
        assert_eq!(parse("\\q"), Meta::Unknown("\\q".into()));
        assert_eq!(parse(" \\x on "), Meta::Unknown("\\x on".into()));
        assert_eq!(parse("\\dt foo*"), Meta::Unknown("\\dt foo*".into()));
        assert_eq!(parse("\\"), Meta::Unknown("\\".into()));
        assert_eq!(parse("\\DT"), Meta::Unknown("\\DT".into()));
    }

    #[test]
    fn literals_are_quoted_safely() {
        assert_eq!(quote_literal("t"), "'t'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("\"odd \"\"name\""), "'\"odd \"\"name\"'");
        assert_eq!(quote_literal("a\\b'c"), "E'a\\\\b''c'");
        assert_eq!(
            quote_literal("x'); DROP TABLE t; --"),
            "'x''); DROP TABLE t; --'"
        );
    }

    #[test]
    fn catalog_queries_name_their_columns_like_psql() {
        let list = list_tables_sql();
        for column in ["\"Schema\"", "\"Name\"", "\"Type\"", "\"Owner\""] {
            assert!(list.contains(column), "{column}");
        }
        let describe = describe_sql("public.t");
        assert!(describe.contains("'public.t'::pg_catalog.regclass"));
        for column in ["\"Column\"", "\"Type\"", "\"Nullable\"", "\"Default\""] {
            assert!(describe.contains(column), "{column}");
        }
        assert!(describe_sql("o'k").contains("'o''k'::pg_catalog.regclass"));
    }
}
