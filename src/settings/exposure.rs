//! What changes when a cluster listens beyond loopback, where everyone on the network can
//! reach it: no built-in password, the stats page kept on loopback unless asked for.

use std::net::{IpAddr, Ipv4Addr};

use super::{Settings, SettingsError};

impl Settings {
    /// The endpoints listen beyond loopback: TLS on, built-in passwords refused.
    pub fn exposed(&self) -> bool {
        !self.bind_host.is_loopback()
    }

    /// Where the stats page listens: with the endpoints while they are on loopback, else on
    /// 127.0.0.1 unless `stats_bind_host` asks for more.
    pub fn stats_host(&self) -> IpAddr {
        match self.stats_bind_host {
            Some(host) => host,
            None if self.exposed() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => self.bind_host,
        }
    }

    /// Refuses to listen beyond loopback with a built-in password: on loopback only this
    /// machine's users reach the endpoints, beyond it everyone on the network would log in.
    pub fn check_exposure(&self) -> Result<(), SettingsError> {
        let (key, host) = if self.exposed() {
            ("bind_host", self.bind_host)
        } else {
            ("stats_bind_host", self.stats_host())
        };
        if host.is_loopback() {
            return Ok(());
        }
        let builtin = Settings::default();
        let defaults: Vec<(&str, &str)> = [
            (
                self.password == builtin.password,
                "password",
                "REPLICA_LAB_PASSWORD",
            ),
            (
                self.replication_password == builtin.replication_password,
                "replication_password",
                "REPLICA_LAB_REPLICATION_PASSWORD",
            ),
        ]
        .into_iter()
        .filter(|(same, ..)| *same)
        .map(|(_, key, var)| (key, var))
        .collect();
        if defaults.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = defaults.iter().map(|(k, _)| *k).collect();
        let vars: Vec<&str> = defaults.iter().map(|(_, v)| *v).collect();
        Err(SettingsError::DefaultPasswordExposed {
            key,
            host,
            which: if keys.len() == 1 {
                format!("{} is", keys[0])
            } else {
                format!("{} are", keys.join(" and "))
            },
            vars: vars.join(" and "),
        })
    }
}

/// Whether `login` may stand in `endpoint_logins` (a `pg_hba.conf` user name): a name, or `+` and a plain
/// lower-case name (a group).
pub fn valid_endpoint_login(login: &str) -> bool {
    match login.strip_prefix('+') {
        Some(group) => {
            group.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && group
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }
        None => !login.is_empty() && !login.contains(['\n', '\r', '\0']),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_passwords_stay_on_loopback() {
        let mut s = Settings::default();
        assert!(s.check_exposure().is_ok());
        s.bind_host = "127.0.0.5".parse().expect("address");
        assert!(s.check_exposure().is_ok());
        s.bind_host = "0.0.0.0".parse().expect("address");
        let both = s
            .check_exposure()
            .expect_err("defaults beyond loopback")
            .to_string();
        assert!(
            both.contains("password and replication_password are")
                && both.contains("REPLICA_LAB_PASSWORD and REPLICA_LAB_REPLICATION_PASSWORD"),
            "{both}"
        );
        s.password = "a-strong-one-of-my-own".into();
        let one = s
            .check_exposure()
            .expect_err("one default left")
            .to_string();
        assert!(
            one.contains("replication_password is still the built-in"),
            "{one}"
        );
        s.replication_password = "another-of-my-own".into();
        assert!(s.check_exposure().is_ok());
    }

    #[test]
    fn the_stats_page_stays_on_loopback_unless_asked() {
        let mut s = Settings::default();
        assert_eq!(s.stats_host(), s.bind_host);
        s.bind_host = "0.0.0.0".parse().expect("address");
        assert!(s.exposed());
        assert_eq!(s.stats_host().to_string(), "127.0.0.1");
        // A stats page asked for beyond loopback asks for the password, which must be the
        // user's own.
        let mut s = Settings {
            stats_bind_host: Some("0.0.0.0".parse().expect("address")),
            ..Settings::default()
        };
        assert!(!s.exposed());
        let e = s
            .check_exposure()
            .expect_err("default password on stats")
            .to_string();
        assert!(
            e.starts_with("stats_bind_host 0.0.0.0 is beyond loopback"),
            "{e}"
        );
        s.password = "mine".into();
        s.replication_password = "mine too".into();
        assert!(s.check_exposure().is_ok());
        s.endpoint_logins = vec!["+Bad Group".into()];
        assert!(matches!(s.validate(), Err(SettingsError::EndpointLogin(_))));
    }
}
