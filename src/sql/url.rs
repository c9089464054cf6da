//! Connection strings for `\connect`: libpq-style URLs
//! (`postgresql://user:pw@host1:port1,host2:port2/db?target_session_attrs=read-write`) and
//! `key=value` conninfo strings (`host=a,b port=1,2 target_session_attrs=read-write`), both
//! parsed by tokio-postgres. Here they are checked before use, shown with the password masked,
//! and completed with the cluster's credentials.
//!
//! What a string leaves out is filled in when the session connects ([`complete`]):
//! - the user and the database are the cluster's (`myuser`, `mydatabase`);
//! - the password is the cluster's when the user is the cluster's (given or filled in);
//! - `application_name` is the console's, so `pg_stat_activity` shows the session as usual;
//! - `connect_timeout` (per host) is the session's.
//!
//! So `\c postgresql://127.0.0.11:5432,127.0.0.12:5432/?target_session_attrs=read-write` is
//! enough to reach the primary of two nodes.

use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode, TargetSessionAttrs};

use crate::settings::Credentials;

/// How a connection string is written, for messages that name the fix.
pub const EXAMPLES: &str = "postgresql://host:port,host:port/db?target_session_attrs=read-write, \
     or host=a,b port=1,2 target_session_attrs=read-write";

const URL_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

fn url_rest(s: &str) -> Option<(&str, &str)> {
    URL_PREFIXES
        .iter()
        .find_map(|p| s.strip_prefix(p).map(|rest| (*p, rest)))
}

/// Parses a URL or conninfo string the way the session will connect with it, and refuses what
/// could not work, with the fix in the message.
pub fn parse(s: &str) -> Result<Config, String> {
    let s = s.trim();
    let url = url_rest(s).is_some();
    if url && s.contains(char::is_whitespace) {
        return Err(
            "a URL has no blanks in it: percent-encode them (%20), or write key=value pairs".into(),
        );
    }
    let config: Config = s.parse().map_err(|e: tokio_postgres::Error| {
        let cause = std::error::Error::source(&e).map_or_else(String::new, |c| format!(": {c}"));
        format!("{e}{cause}; {}", parse_fix(&cause, url))
    })?;
    let hosts = config.get_hosts().len().max(config.get_hostaddrs().len());
    if hosts == 0 {
        return Err(format!("it names no host: write {EXAMPLES}"));
    }
    if !config.get_hosts().is_empty()
        && !config.get_hostaddrs().is_empty()
        && config.get_hosts().len() != config.get_hostaddrs().len()
    {
        return Err("as many hostaddr values as host values are needed".into());
    }
    let ports = config.get_ports().len();
    if ports > 1 && ports != hosts {
        return Err(format!(
            "{hosts} hosts but {ports} ports: give one port per host, or one port for them all"
        ));
    }
    if config.get_ssl_mode() == SslMode::Require {
        return Err(
            "the console connects without TLS: drop sslmode=require (or use sslmode=disable)"
                .into(),
        );
    }
    Ok(config)
}

/// What to change, after tokio-postgres's own words on what is wrong.
fn parse_fix(cause: &str, url: bool) -> String {
    let option = cause.split('`').nth(1).filter(|_| cause.contains("option"));
    let values = match option {
        Some("target_session_attrs") => {
            Some("target_session_attrs is any, read-write or read-only")
        }
        Some("load_balance_hosts") => Some("load_balance_hosts is disable or random"),
        Some("sslmode") => Some("sslmode is disable or prefer"),
        Some("port") => Some("a port is a number, one per host: host1:5432,host2:5433"),
        Some("connect_timeout") => Some("connect_timeout is in whole seconds: connect_timeout=2"),
        _ => None,
    };
    match values {
        Some(v) => v.into(),
        None if cause.contains("unknown option") => format!(
            "known options include user, password, dbname, host, port, application_name, \
             connect_timeout, target_session_attrs and load_balance_hosts; write {EXAMPLES}"
        ),
        None if !url => {
            format!("write a URL starting with postgresql:// or key=value pairs: {EXAMPLES}")
        }
        None => format!("write {EXAMPLES}"),
    }
}

/// `s` with its password, wherever it is, replaced by `***`: after `user:` in a URL, and as
/// the value of a `password` parameter.
pub fn mask_password(s: &str) -> String {
    let Some((prefix, rest)) = url_rest(s) else {
        return mask_values(s, false);
    };
    let mut out = String::from(prefix);
    // As tokio-postgres (and libpq) read it: the credentials end at the first `@`.
    let rest = match rest.find('@') {
        Some(at) => {
            let (credentials, tail) = rest.split_at(at);
            match credentials.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(credentials),
            }
            tail
        }
        None => rest,
    };
    out.push_str(&mask_values(rest, true));
    out
}

/// Masks the value of every `password=` parameter: in a URL's query (values end at `&`) or in
/// a conninfo string (values end at a blank, or are quoted, with `\` escaping).
fn mask_values(s: &str, url: bool) -> String {
    const KEY: &str = "password";
    let bytes = s.as_bytes();
    let skip_blanks = |mut j: usize| {
        while !url && j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let starts =
            i == 0 || matches!(bytes[i - 1], b'?' | b'&') || bytes[i - 1].is_ascii_whitespace();
        if starts && s[i..].starts_with(KEY) {
            let j = skip_blanks(i + KEY.len());
            if bytes.get(j) == Some(&b'=') {
                let start = skip_blanks(j + 1);
                out.push_str(&s[i..start]);
                out.push_str("***");
                i = value_end(s, start, url);
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

fn value_end(s: &str, start: usize, url: bool) -> usize {
    let bytes = s.as_bytes();
    if url {
        return s[start..].find('&').map_or(s.len(), |k| start + k);
    }
    let quoted = bytes.get(start) == Some(&b'\'');
    let mut j = start + usize::from(quoted);
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'\'' if quoted => return j + 1,
            b if !quoted && b.is_ascii_whitespace() => return j,
            _ => j += 1,
        }
    }
    s.len()
}

/// Fills in what the string left out (see the module's documentation).
pub fn complete(
    config: &mut Config,
    creds: &Credentials,
    application_name: &str,
    connect_timeout: Duration,
) {
    if config.get_user().is_none_or(str::is_empty) {
        config.user(&creds.user);
    }
    let own_user = config.get_user() == Some(creds.user.as_str());
    if own_user && config.get_password().is_none_or(<[u8]>::is_empty) {
        config.password(&creds.password);
    }
    if config.get_dbname().is_none_or(str::is_empty) {
        config.dbname(&creds.database);
    }
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(connect_timeout);
    }
}

/// The servers the string lists, in order, as `host:port`.
pub fn hosts(config: &Config) -> Vec<String> {
    let (names, addrs, ports) = (
        config.get_hosts(),
        config.get_hostaddrs(),
        config.get_ports(),
    );
    (0..names.len().max(addrs.len()))
        .map(|i| {
            let host = match (addrs.get(i), names.get(i)) {
                (Some(ip), _) => ip.to_string(),
                (None, Some(Host::Tcp(h))) => h.clone(),
                #[cfg(unix)]
                (None, Some(Host::Unix(p))) => p.display().to_string(),
                (None, None) => String::new(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        })
        .collect()
}

/// How long connecting may take in all: each host gets its `connect_timeout`, one after the
/// other, as libpq gives them.
pub fn deadline(config: &Config, fallback: Duration) -> Duration {
    let per_host = config.get_connect_timeout().copied().unwrap_or(fallback);
    let count = u32::try_from(hosts(config).len().max(1)).unwrap_or(u32::MAX);
    per_host.saturating_mul(count)
}

/// Why no server was chosen, in the learner's terms, for a connection that failed: tokio-
/// postgres reports only the last server's answer.
pub fn failure_hint(config: &Config, error: &tokio_postgres::Error) -> Option<String> {
    let listed = hosts(config).join(", ");
    let refused_attrs = {
        let mut source = std::error::Error::source(error);
        let mut found = false;
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                found |= io.kind() == std::io::ErrorKind::PermissionDenied;
            }
            source = cause.source();
        }
        found
    };
    let attrs = match config.get_target_session_attrs() {
        TargetSessionAttrs::ReadWrite => {
            Some(("read-write", "the primary must be in the list, and up"))
        }
        TargetSessionAttrs::ReadOnly => {
            Some(("read-only", "a replica must be in the list, and up"))
        }
        _ => None,
    };
    match attrs {
        Some((attrs, fix)) if refused_attrs => Some(format!(
            "no server in the list ({listed}) accepted target_session_attrs={attrs}: {fix}"
        )),
        _ if hosts(config).len() > 1 && error.as_db_error().is_none() => Some(format!(
            "no server in the list ({listed}) took the connection; the error is the last one's"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user: "myuser".into(),
            password: "mypassword".into(),
            database: "mydatabase".into(),
            replication_user: "replicator".into(),
            replication_password: "r".into(),
            check_user: "haproxy_check".into(),
        }
    }

    #[test]
    fn urls_and_conninfo_parse_with_every_routing_option() {
        let c = parse(
            "postgresql://u:pw@127.0.0.12:5433,127.0.0.11:5432/db?target_session_attrs=read-write\
             &load_balance_hosts=random&application_name=x&connect_timeout=2",
        )
        .unwrap();
        assert_eq!(hosts(&c), ["127.0.0.12:5433", "127.0.0.11:5432"]);
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
        assert_eq!(c.get_application_name(), Some("x"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(deadline(&c, Duration::from_secs(3)), Duration::from_secs(4));

        let c = parse("host=a,b port=1,2 target_session_attrs=read-only").unwrap();
        assert_eq!(hosts(&c), ["a:1", "b:2"]);
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadOnly);
        let c = parse("host=a,b port=7").unwrap();
        assert_eq!(hosts(&c), ["a:7", "b:7"]);
        assert_eq!(deadline(&c, Duration::from_secs(3)), Duration::from_secs(6));
    }

    #[test]
    fn bad_strings_are_refused_with_the_fix() {
        let e = parse("postgresql://a/?target_session_attrs=primary").unwrap_err();
        assert!(e.contains("target_session_attrs"), "{e}");
        assert!(e.contains("read-write"), "{e}");
        let e = parse("postgresql://a/?load_balance_hosts=yes").unwrap_err();
        assert!(e.contains("disable or random"), "{e}");
        let e = parse("postgresql://a/?colour=blue").unwrap_err();
        assert!(e.contains("unknown option `colour`"), "{e}");
        let e = parse("postgresql://a:port/").unwrap_err();
        assert!(e.contains("a port is a number"), "{e}");
        let e = parse("mydb").unwrap_err();
        assert!(e.contains("postgresql://"), "{e}");
        let e = parse("postgresql:///mydb").unwrap_err();
        assert!(e.contains("no host"), "{e}");
        let e = parse("postgresql://a/ db").unwrap_err();
        assert!(e.contains("blanks"), "{e}");
        let e = parse("host=a,b,c port=1,2").unwrap_err();
        assert!(e.contains("3 hosts but 2 ports"), "{e}");
        let e = parse("postgresql://a/?sslmode=require").unwrap_err();
        assert!(e.contains("TLS"), "{e}");
    }

    #[test]
    fn passwords_are_masked_wherever_they_are() {
        let m = |s: &str| mask_password(s);
        assert_eq!(
            m("postgresql://u:secret@h1:1,h2:2/db?target_session_attrs=read-write"),
            "postgresql://u:***@h1:1,h2:2/db?target_session_attrs=read-write"
        );
        assert_eq!(m("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(m("postgresql://h/db"), "postgresql://h/db");
        assert_eq!(
            m("postgresql://h/db?password=s3&application_name=x"),
            "postgresql://h/db?password=***&application_name=x"
        );
        assert_eq!(m("postgresql://u:p@ss@h/"), "postgresql://u:***@ss@h/");
        assert_eq!(
            m("host=a password=secret port=1"),
            "host=a password=*** port=1"
        );
        assert_eq!(
            m("host=a password = 'se cr\\'et' port=1"),
            "host=a password = *** port=1"
        );
        assert_eq!(m("password=a&b"), "password=***");
        assert_eq!(
            m("host=a application_name=nopassword=x"),
            "host=a application_name=nopassword=x"
        );
    }

    #[test]
    fn missing_credentials_are_the_clusters() {
        let mut c =
            parse("postgresql://127.0.0.11:5432,127.0.0.12:5432/?target_session_attrs=read-write")
                .unwrap();
        complete(&mut c, &creds(), "console", Duration::from_secs(3));
        assert_eq!(c.get_user(), Some("myuser"));
        assert_eq!(c.get_password(), Some(&b"mypassword"[..]));
        assert_eq!(c.get_dbname(), Some("mydatabase"));
        assert_eq!(c.get_application_name(), Some("console"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));

        // What the string says stays; another user does not get the cluster's password.
        let mut c = parse("postgresql://other@h/db?application_name=x&connect_timeout=1").unwrap();
        complete(&mut c, &creds(), "console", Duration::from_secs(3));
        assert_eq!(c.get_user(), Some("other"));
        assert_eq!(c.get_password(), None);
        assert_eq!(c.get_dbname(), Some("db"));
        assert_eq!(c.get_application_name(), Some("x"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(1)));

        let mut c = parse("postgresql://myuser:given@h/").unwrap();
        complete(&mut c, &creds(), "console", Duration::from_secs(3));
        assert_eq!(c.get_password(), Some(&b"given"[..]));
    }
}
