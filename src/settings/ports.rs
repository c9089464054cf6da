//! The ports a cluster's settings claim, and the rule that no two of them meet: the
//! endpoints, `node_port` and the block of node ports for every node the cluster could ever
//! have, so neither addressing nor scaling can put two listeners on one port. Every one of them
//! is at least [`MIN_PORT`].

use super::{MAX_NODES, Settings, SettingsError};

/// The lowest port a cluster may use. Ports below it are privileged: only root may listen on
/// them, and PostgreSQL refuses to run as root, so a node there could never start; the
/// endpoints and the node block obey the same simple rule rather than one per runtime.
pub const MIN_PORT: u16 = 1024;

/// What a port of a cluster is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRole {
    Write,
    Read,
    Stats,
    /// The one port every node listens on at its own loopback address.
    NodePort,
    /// The port of node `pgN` where nodes share 127.0.0.1.
    Node(u8),
}

/// One port a cluster's settings claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortUse {
    pub port: u16,
    pub role: PortRole,
}

impl Settings {
    /// The port pgN gets where nodes share 127.0.0.1; `None` past 65535 or for index 0.
    pub fn distinct_node_port(&self, index: u8) -> Option<u16> {
        let offset = u16::from(index).checked_sub(1)?;
        self.node_ports_from.checked_add(offset)
    }

    /// Every port these settings claim, whichever addressing the nodes get: the endpoints,
    /// `node_port` and the node block for every node the cluster could scale to. Fails on
    /// port 0, a port below [`MIN_PORT`] and a block that runs past 65535; overlaps are
    /// [`Settings::validate`]'s.
    pub fn port_uses(&self) -> Result<Vec<PortUse>, SettingsError> {
        let mut uses = vec![
            PortUse {
                port: self.write_port,
                role: PortRole::Write,
            },
            PortUse {
                port: self.read_port,
                role: PortRole::Read,
            },
            PortUse {
                port: self.stats_port,
                role: PortRole::Stats,
            },
            PortUse {
                port: self.node_port,
                role: PortRole::NodePort,
            },
        ];
        let first_node = "the first node port (node_ports_from)";
        if let Some(zero) = uses.iter().find(|u| u.port == 0) {
            return Err(SettingsError::PortZero(self.describe(zero.role)));
        }
        if self.node_ports_from == 0 {
            return Err(SettingsError::PortZero(first_node.into()));
        }
        if let Some(low) = uses.iter().find(|u| u.port < MIN_PORT) {
            return Err(SettingsError::PortPrivileged {
                port: low.port,
                what: self.describe(low.role),
            });
        }
        if self.node_ports_from < MIN_PORT {
            return Err(SettingsError::PortPrivileged {
                port: self.node_ports_from,
                what: first_node.into(),
            });
        }
        for index in 1..=MAX_NODES {
            let port = self
                .distinct_node_port(index)
                .ok_or(SettingsError::NodePortsOverflow(self.node_ports_from))?;
            uses.push(PortUse {
                port,
                role: PortRole::Node(index),
            });
        }
        Ok(uses)
    }

    /// What `role` is, with the setting that moves it, for messages.
    pub fn describe(&self, role: PortRole) -> String {
        match role {
            PortRole::Write => "the write endpoint (write_port)".into(),
            PortRole::Read => "the read endpoint (read_port)".into(),
            PortRole::Stats => "the stats page (stats_port)".into(),
            PortRole::NodePort => {
                "node_port (where nodes listen on their own loopback addresses)".into()
            }
            PortRole::Node(index) => {
                let from = self.node_ports_from;
                let last = from.saturating_add(u16::from(MAX_NODES) - 1);
                format!(
                    "pg{index}'s node port (node ports {from}\u{2013}{last} from node_ports_from {from})"
                )
            }
        }
    }

    /// Refuses port 0, a port below [`MIN_PORT`], a node block past 65535 and any port
    /// claimed twice, naming both users.
    pub(super) fn check_ports(&self) -> Result<(), SettingsError> {
        let uses = self.port_uses()?;
        for (i, a) in uses.iter().enumerate() {
            if let Some(b) = uses[i + 1..].iter().find(|b| b.port == a.port) {
                return Err(SettingsError::PortClash {
                    first_port: a.port,
                    first: self.describe(a.role),
                    second: self.describe(b.role),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clash(s: &Settings) -> String {
        s.validate().expect_err("a clash").to_string()
    }

    #[test]
    fn the_defaults_claim_disjoint_ports() {
        let s = Settings::default();
        assert!(s.validate().is_ok());
        let uses = s.port_uses().expect("defaults fit");
        let ports: Vec<u16> = uses.iter().map(|u| u.port).collect();
        assert_eq!(&ports[..4], [5435, 5436, 8404, 5432]);
        let nodes: Vec<u16> = (15431..=15440).collect();
        assert_eq!(&ports[4..], nodes);
        assert_eq!(uses[4].role, PortRole::Node(1));
        assert_eq!(uses[13].role, PortRole::Node(MAX_NODES));
        assert_eq!(s.distinct_node_port(1), Some(15431));
        assert_eq!(s.distinct_node_port(10), Some(15440));
        assert_eq!(s.distinct_node_port(0), None);
    }

    /// Every pair of single ports (endpoints and node_port) set equal is refused, naming both.
    #[test]
    fn any_two_single_ports_that_meet_are_named() {
        let names = ["write_port", "read_port", "stats_port", "node_port"];
        let set = |s: &mut Settings, which: usize, port: u16| match which {
            0 => s.write_port = port,
            1 => s.read_port = port,
            2 => s.stats_port = port,
            _ => s.node_port = port,
        };
        for a in 0..names.len() {
            for b in a + 1..names.len() {
                let mut s = Settings::default();
                set(&mut s, a, 7000);
                set(&mut s, b, 7000);
                let err = clash(&s);
                assert!(err.starts_with("port 7000 is both "), "{err}");
                assert!(
                    err.contains(names[a]) && err.contains(names[b]),
                    "{} and {}: {err}",
                    names[a],
                    names[b]
                );
                assert!(err.ends_with("choose ports that do not overlap"), "{err}");
            }
        }
    }

    /// Each single port inside the node block is refused, naming the node it lands on.
    /// Every port well apart from the others, the node block on 9000–9009.
    fn apart() -> Settings {
        Settings {
            write_port: 8001,
            read_port: 8002,
            stats_port: 8003,
            node_port: 8004,
            node_ports_from: 9000,
            ..Settings::default()
        }
    }

    #[test]
    fn a_single_port_inside_the_node_block_names_the_node() {
        let s = Settings {
            node_ports_from: 5431,
            ..Settings::default()
        };
        // The defaults' write (5435), read (5436) and node_port (5432) all fall in 5431–5440.
        assert_eq!(
            clash(&s),
            "port 5435 is both the write endpoint (write_port) and pg5's node port \
             (node ports 5431\u{2013}5440 from node_ports_from 5431): choose ports that do not \
             overlap"
        );
        let cases = [
            ("write_port", PortRole::Write),
            ("read_port", PortRole::Read),
            ("stats_port", PortRole::Stats),
            ("node_port", PortRole::NodePort),
        ];
        for (name, role) in cases {
            for (port, node) in [(9000, 1), (9004, 5), (9009, 10)] {
                // Everything else well apart, then one port moved into 9000–9009.
                let mut s = apart();
                assert!(s.validate().is_ok());
                match role {
                    PortRole::Write => s.write_port = port,
                    PortRole::Read => s.read_port = port,
                    PortRole::Stats => s.stats_port = port,
                    _ => s.node_port = port,
                }
                let err = clash(&s);
                assert!(
                    err.starts_with(&format!("port {port} is both ")),
                    "{name}: {err}"
                );
                assert!(err.contains(name), "{name}: {err}");
                assert!(
                    err.contains(&format!("pg{node}'s node port"))
                        && err.contains("from node_ports_from 9000"),
                    "{name} on {port}: {err}"
                );
            }
            // Just outside the block on either side is fine.
            for port in [8999, 9010] {
                let mut s = apart();
                match role {
                    PortRole::Write => s.write_port = port,
                    PortRole::Read => s.read_port = port,
                    PortRole::Stats => s.stats_port = port,
                    _ => s.node_port = port,
                }
                assert!(s.validate().is_ok(), "{name} on {port}");
            }
        }
    }

    #[test]
    fn a_node_block_past_65535_is_refused_without_overflow() {
        let last_fit = u16::MAX - u16::from(MAX_NODES) + 1;
        let s = Settings {
            node_ports_from: last_fit,
            ..Settings::default()
        };
        assert!(
            s.validate().is_ok(),
            "{last_fit} holds pg1..pg10 up to 65535"
        );
        assert_eq!(s.distinct_node_port(MAX_NODES), Some(u16::MAX));
        for from in [last_fit + 1, u16::MAX] {
            let s = Settings {
                node_ports_from: from,
                ..Settings::default()
            };
            let err = s.validate().expect_err("overflow").to_string();
            assert!(
                err.contains(&format!("node_ports_from {from} leaves no room"))
                    && err.contains(&format!("choose node_ports_from {last_fit} or lower")),
                "{err}"
            );
            assert_eq!(s.distinct_node_port(MAX_NODES), None);
        }
    }

    /// A test case: a setting's name and how to set it to 0.
    type Zero = (&'static str, fn(&mut Settings));

    #[test]
    fn port_zero_is_refused_for_every_setting() {
        let cases: [Zero; 5] = [
            ("write_port", |s| s.write_port = 0),
            ("read_port", |s| s.read_port = 0),
            ("stats_port", |s| s.stats_port = 0),
            ("node_port", |s| s.node_port = 0),
            ("node_ports_from", |s| s.node_ports_from = 0),
        ];
        for (name, zero) in cases {
            let mut s = Settings::default();
            zero(&mut s);
            let err = s.validate().expect_err("port 0").to_string();
            assert!(
                err.starts_with("port 0 is not usable for ") && err.contains(name),
                "{name}: {err}"
            );
        }
    }

    /// A test case: a port setting's name and how to set it.
    type Setter = (&'static str, fn(&mut Settings, u16));

    #[test]
    fn privileged_ports_are_refused_for_every_setting() {
        let cases: [Setter; 5] = [
            ("write_port", |s, p| s.write_port = p),
            ("read_port", |s, p| s.read_port = p),
            ("stats_port", |s, p| s.stats_port = p),
            ("node_port", |s, p| s.node_port = p),
            ("node_ports_from", |s, p| s.node_ports_from = p),
        ];
        for (name, set) in cases {
            for port in [1, 80, 443, MIN_PORT - 1] {
                let mut s = Settings::default();
                set(&mut s, port);
                let err = s.validate().expect_err("privileged").to_string();
                assert!(
                    err.starts_with(&format!("port {port} is not usable for "))
                        && err.contains(name)
                        && err.contains("below 1024 need root")
                        && err.ends_with("choose a port from 1024 to 65535"),
                    "{name} on {port}: {err}"
                );
            }
            // The lowest unprivileged port is fine.
            let mut s = apart();
            set(&mut s, MIN_PORT);
            assert!(s.validate().is_ok(), "{name} on {MIN_PORT}");
        }
    }

    #[test]
    fn the_node_block_is_read_from_the_environment() {
        let env = [
            (
                "REPLICA_LAB_NODE_PORTS_FROM".to_string(),
                "5431".to_string(),
            ),
            ("REPLICA_LAB_NODE_PORT".to_string(), "6000".to_string()),
        ];
        #[derive(serde::Serialize)]
        struct NoFlags {}
        let err = Settings::load(None, env.clone(), &NoFlags {})
            .expect_err("5431–5440 holds the endpoints")
            .to_string();
        assert!(err.contains("pg5's node port"), "{err}");
        let moved = [
            env[0].clone(),
            env[1].clone(),
            ("REPLICA_LAB_WRITE_PORT".into(), "7435".into()),
            ("REPLICA_LAB_READ_PORT".into(), "7436".into()),
        ];
        let s = Settings::load(None, moved, &NoFlags {}).expect("apart");
        assert_eq!(s.node_ports_from, 5431);
        assert_eq!(s.distinct_node_port(3), Some(5433));
    }
}
