//! Hub connection strings, both as libpq writes them: URLs
//! (`postgresql://user:pw@host:port/db?sslmode=verify-full&sslrootcert=ca.pem`) and
//! `key=value` pairs. tokio-postgres parses them too, but knows neither the TLS modes that
//! verify nor `sslrootcert`, and cannot write one back out with another login; so the
//! parameters are handled here and the rest is left as written.

/// A connection string taken apart just enough to change its parameters and its login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conninfo {
    form: Form,
    /// Parameters in order, values decoded.
    params: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Form {
    /// `scheme://[userinfo@]hosts[/db]`, kept as written (percent-encoded).
    Url {
        scheme: String,
        userinfo: Option<String>,
        hosts: String,
        path: String,
    },
    KeyValue,
}

const SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

impl Conninfo {
    pub fn parse(s: &str) -> Result<Conninfo, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("it is empty".into());
        }
        match SCHEMES.iter().find(|p| s.starts_with(*p)) {
            Some(scheme) => parse_url(scheme, &s[scheme.len()..]),
            None => parse_key_values(s),
        }
    }

    /// The last value given for `key` (libpq keeps the last one too).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Removes every `key`; returns the value that counted.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let value = self.get(key).map(str::to_string);
        self.params.retain(|(k, _)| k != key);
        value
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.to_string(), value.to_string()));
    }

    /// Written back in the form it was given.
    pub fn render(&self) -> String {
        match &self.form {
            Form::KeyValue => self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={}", quote(v)))
                .collect::<Vec<_>>()
                .join(" "),
            Form::Url {
                scheme,
                userinfo,
                hosts,
                path,
            } => {
                let userinfo = userinfo.as_ref().map(|u| format!("{u}@"));
                format!(
                    "{scheme}{}{hosts}{path}{}",
                    userinfo.unwrap_or_default(),
                    query(&self.params)
                )
            }
        }
    }

    /// The same server, database and parameters as a URL, logging in as `user`.
    pub fn to_url_with_login(&self, user: &str, password: &str) -> String {
        let userinfo = format!("{}:{}", encode(user), encode(password));
        let mut params = self.params.clone();
        params.retain(|(k, _)| k != "user" && k != "password");
        match &self.form {
            Form::Url {
                scheme,
                hosts,
                path,
                ..
            } => format!("{scheme}{userinfo}@{hosts}{path}{}", query(&params)),
            Form::KeyValue => {
                let mut take = |key: &str| {
                    let value = params.iter().rev().find(|(k, _)| k == key).cloned();
                    params.retain(|(k, _)| k != key);
                    value.map(|(_, v)| v)
                };
                let (host, port, db) = (take("host"), take("port"), take("dbname"));
                let hosts = url_hosts(host.as_deref(), port.as_deref(), &mut params);
                let path = db.map(|d| format!("/{}", encode(&d))).unwrap_or_default();
                format!("postgresql://{userinfo}@{hosts}{path}{}", query(&params))
            }
        }
    }
}

/// `host` and `port` lists as a URL's authority: `a:1,b:2`. Socket folders cannot be written
/// there, so they stay parameters.
fn url_hosts(host: Option<&str>, port: Option<&str>, params: &mut Vec<(String, String)>) -> String {
    let hosts: Vec<&str> = host.map(|h| h.split(',').collect()).unwrap_or_default();
    let ports: Vec<&str> = port.map(|p| p.split(',').collect()).unwrap_or_default();
    if hosts.iter().any(|h| h.starts_with('/')) {
        if let Some(h) = host {
            params.push(("host".into(), h.into()));
        }
        if let Some(p) = port {
            params.push(("port".into(), p.into()));
        }
        return String::new();
    }
    if hosts.is_empty() {
        return ports.first().map(|p| format!(":{p}")).unwrap_or_default();
    }
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if h.contains(':') {
                format!("[{h}]")
            } else {
                (*h).to_string()
            };
            match ports.get(i).or(ports.first().filter(|_| ports.len() == 1)) {
                Some(p) if !p.is_empty() => format!("{h}:{p}"),
                _ => h,
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_url(scheme: &str, rest: &str) -> Result<Conninfo, String> {
    if rest.contains(char::is_whitespace) {
        return Err("a URL has no blanks in it: percent-encode them (%20)".into());
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    // Host names have no `@`: the last one ends the login.
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(i) => (Some(authority[..i].to_string()), &authority[i + 1..]),
        None => (None, authority),
    };
    let mut params = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("the parameter {pair:?} has no value: write {pair}=VALUE"))?;
        params.push((decode(k)?, decode(v)?));
    }
    Ok(Conninfo {
        form: Form::Url {
            scheme: scheme.to_string(),
            userinfo,
            hosts: hosts.to_string(),
            path: path.to_string(),
        },
        params,
    })
}

fn parse_key_values(s: &str) -> Result<Conninfo, String> {
    let mut params = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "{key:?} has no value: write a URL (postgresql://user:password@host:port/db) \
                 or key=value pairs (host=h port=5432 dbname=db)"
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of {key} has no closing quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        params.push((key, value));
    }
    Ok(Conninfo {
        form: Form::KeyValue,
        params,
    })
}

fn query(params: &[(String, String)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!("{s:?} has a bad %-escape: write %XX with two hex digits")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_shape_and_lose_only_what_is_taken() {
        let mut c = Conninfo::parse(
            "postgresql://u:p%40ss@h1:5432,h2/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(c.take("sslmode").as_deref(), Some("verify-full"));
        assert_eq!(c.take("sslrootcert").as_deref(), Some("/tmp/ca.pem"));
        c.set("sslmode", "require");
        assert_eq!(
            c.render(),
            "postgresql://u:p%40ss@h1:5432,h2/db?application_name=x&sslmode=require"
        );
    }

    #[test]
    fn key_values_parse_quotes_and_escapes() {
        let mut c =
            Conninfo::parse("host=h port = 5 password='a b\\'c' sslmode=verify-ca").unwrap();
        assert_eq!(c.get("password"), Some("a b'c"));
        assert_eq!(c.take("sslmode").as_deref(), Some("verify-ca"));
        assert_eq!(c.render(), "host=h port=5 password='a b\\'c'");
        assert!(Conninfo::parse("host=h password='x").is_err());
        assert!(Conninfo::parse("mydb").is_err());
        assert!(Conninfo::parse("   ").is_err());
    }

    #[test]
    fn another_login_keeps_server_database_and_parameters() {
        let c = Conninfo::parse("postgresql://me:secret@hub.example:6543/class?sslmode=require")
            .unwrap();
        assert_eq!(
            c.to_url_with_login("classroom_gate", "classroom_gate"),
            "postgresql://classroom_gate:classroom_gate@hub.example:6543/class?sslmode=require"
        );
        let c =
            Conninfo::parse("postgresql://hub/class?user=me&password=x&connect_timeout=3").unwrap();
        assert_eq!(
            c.to_url_with_login("g", "p w"),
            "postgresql://g:p%20w@hub/class?connect_timeout=3"
        );
        let c = Conninfo::parse(
            "host=a,b port=1,2 dbname=my db user=me password=x sslmode=verify-full",
        );
        assert!(c.is_err(), "a blank ends a value unless quoted");
        let c = Conninfo::parse(
            "host=a,b port=1,2 dbname='my db' user=me password=x sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(
            c.to_url_with_login("g", "p"),
            "postgresql://g:p@a:1,b:2/my%20db?sslmode=verify-full"
        );
        let c = Conninfo::parse("host=::1 port=7 dbname=d").unwrap();
        assert_eq!(c.to_url_with_login("g", "p"), "postgresql://g:p@[::1]:7/d");
        let c = Conninfo::parse("host=/run/postgresql dbname=d").unwrap();
        assert_eq!(
            c.to_url_with_login("g", "p"),
            "postgresql://g:p@/d?host=%2Frun%2Fpostgresql"
        );
    }

    #[test]
    fn percent_codes_round_trip() {
        for s in ["plain", "a b/c?d&e=f", "ünï", "%"] {
            assert_eq!(decode(&encode(s)).unwrap(), s);
        }
        assert!(decode("%zz").is_err());
    }
}
