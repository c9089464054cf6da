//! The ports of a hub `classroom host` starts: one block from `--port`, checked apart from
//! the instructor's own cluster and free on this machine before anything starts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::HUB_CLUSTER;
use crate::error::{Error, Result};
use crate::runtime::local::{detect_addressing, port_holder, port_in_use};
use crate::settings::{MAX_NODES, MIN_REPLICAS, PortRole, Settings};

/// What a started hub occupies from `--port` on: write, read, stats, `node_port`, then one
/// port for each node it could ever have.
pub const HUB_PORTS: u16 = 4 + MAX_NODES as u16;
/// The started hub's cluster settings: the user's, with the hub's name and a block of
/// [`HUB_PORTS`] ports from `port`: write, read, stats, `node_port`, then one port for every
/// node it could have, so it never meets the ports of a cluster started with other settings.
pub fn hub_settings(
    base: &Settings,
    bind: Option<IpAddr>,
    port: u16,
) -> std::result::Result<Settings, String> {
    if port == 0 {
        return Err("--port 0 is not a port: choose e.g. 5439".into());
    }
    let at = |i: u16| {
        port.checked_add(i).ok_or_else(|| {
            format!(
                "--port {port} leaves no room: the hub uses {HUB_PORTS} ports from it; choose \
                 {} or lower",
                u16::MAX - (HUB_PORTS - 1)
            )
        })
    };
    at(HUB_PORTS - 1)?;
    let settings = Settings {
        name: HUB_CLUSTER.into(),
        replicas: MIN_REPLICAS,
        bind_host: bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        write_port: port,
        read_port: at(1)?,
        stats_port: at(2)?,
        // Nodes on loopback aliases share the instructor's own cluster's addresses
        // (node_base), so the hub's nodes need a port of their own there too.
        node_port: at(3)?,
        node_ports_from: at(4)?,
        ..base.clone()
    };
    settings
        .validate()
        .map_err(|e| format!("the hub's settings from --port {port}: {e}"))?;
    Ok(settings)
}

/// What a port of the hub's block is, in the hub's terms.
fn hub_role(role: PortRole) -> String {
    match role {
        PortRole::Write => "the hub's write endpoint".into(),
        PortRole::Read => "the hub's read endpoint".into(),
        PortRole::Stats => "the hub's stats page".into(),
        PortRole::NodePort => "the hub's node port".into(),
        PortRole::Node(i) => format!("the hub's pg{i} port"),
    }
}

/// The hub's block must stay off the ports of the instructor's own cluster (`own`, the
/// settings on this machine), which may be running or started later.
pub fn check_hub_apart(hub: &Settings, own: &Settings) -> std::result::Result<(), String> {
    let theirs = own.port_uses().map_err(|e| e.to_string())?;
    let ours = hub.port_uses().map_err(|e| e.to_string())?;
    for h in &ours {
        if let Some(o) = theirs.iter().find(|o| o.port == h.port) {
            return Err(format!(
                "port {} is both {} (ports {}\u{2013}{} from --port {}) and {} of your own \
                 cluster {:?}: start the hub on other ports with --port, or move your cluster's",
                h.port,
                hub_role(h.role),
                hub.write_port,
                hub.write_port.saturating_add(HUB_PORTS - 1),
                hub.write_port,
                own.describe(o.role),
                own.name,
            ));
        }
    }
    Ok(())
}

/// The addresses a started hub binds, with what each is, for a clear message when one is taken.
fn hub_addresses(settings: &Settings) -> Vec<(SocketAddr, &'static str)> {
    let host = settings.bind_host;
    let mut wanted = vec![
        (SocketAddr::new(host, settings.write_port), "write endpoint"),
        (SocketAddr::new(host, settings.read_port), "read endpoint"),
        (SocketAddr::new(host, settings.stats_port), "stats page"),
    ];
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let base = u32::from(settings.node_base);
    for i in 1..=1 + settings.replicas {
        // Nodes on loopback aliases share a port; on 127.0.0.1 each has its own.
        let alias = IpAddr::V4(Ipv4Addr::from(base + u32::from(i)));
        wanted.push((SocketAddr::new(alias, settings.node_port), "node"));
        if let Some(port) = settings.distinct_node_port(i) {
            wanted.push((SocketAddr::new(loopback, port), "node"));
        }
    }
    wanted
}

pub(super) fn check_hub_ports(settings: &Settings) -> Result<()> {
    let aliases = matches!(
        detect_addressing(settings.node_base),
        crate::cluster::topology::NodeAddressing::LoopbackAliases
    );
    for (addr, what) in hub_addresses(settings) {
        let alias = addr.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) && what == "node";
        if alias && !aliases {
            continue;
        }
        if port_in_use(addr) {
            let holder = port_holder(addr.port())
                .map(|h| format!(" by {h}"))
                .unwrap_or_default();
            return Err(Error::new(format!(
                "port {} (the hub's {what}, {addr}) is in use{holder}: free it, or start the hub \
                 on other ports with --port (it uses {} to {})",
                addr.port(),
                settings.write_port,
                settings.write_port.saturating_add(HUB_PORTS - 1)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_cluster_has_its_own_name_and_ports() {
        let s = hub_settings(&Settings::default(), None, 5439).unwrap();
        assert_eq!(s.name, HUB_CLUSTER);
        assert_eq!(
            (s.write_port, s.read_port, s.stats_port, s.node_port),
            (5439, 5440, 5441, 5442)
        );
        assert_eq!(s.node_ports_from, 5443);
        assert_eq!(s.bind_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(s.validate().is_ok());
        // The block holds every port the hub's settings claim, for any node it could have.
        let block = 5439..5439 + HUB_PORTS;
        let uses = s.port_uses().unwrap();
        assert_eq!(uses.len(), usize::from(HUB_PORTS));
        assert!(uses.iter().all(|u| block.contains(&u.port)), "{uses:?}");
        assert!(
            hub_addresses(&s)
                .iter()
                .all(|(a, _)| block.contains(&a.port()))
        );
        assert!(check_hub_apart(&s, &Settings::default()).is_ok());
    }

    #[test]
    fn a_hub_port_that_leaves_no_room_is_refused() {
        let last = u16::MAX - (HUB_PORTS - 1);
        let s = hub_settings(&Settings::default(), None, last).unwrap();
        assert_eq!(s.distinct_node_port(MAX_NODES), Some(u16::MAX));
        let err = hub_settings(&Settings::default(), None, last + 1).unwrap_err();
        assert!(
            err.contains("leaves no room") && err.contains(&format!("choose {last} or lower")),
            "{err}"
        );
        assert!(hub_settings(&Settings::default(), None, u16::MAX).is_err());
        assert!(hub_settings(&Settings::default(), None, 0).is_err());
    }

    /// Each of the hub's ports meeting each kind of port of the instructor's own cluster is
    /// refused, naming both.
    #[test]
    fn a_hub_on_the_instructors_own_ports_is_refused() {
        let own = Settings::default();
        let apart = Settings {
            write_port: 7000,
            ..Settings::default()
        };
        // (own settings, --port, the hub's port named, the own cluster's port named): the
        // first of the hub's ports in its block order that meets one of the cluster's.
        let cases = [
            (
                &own,
                5435,
                "the hub's write endpoint",
                "the write endpoint (write_port)",
            ),
            (
                &own,
                5436,
                "the hub's write endpoint",
                "the read endpoint (read_port)",
            ),
            (
                &own,
                8404 - 2,
                "the hub's stats page",
                "the stats page (stats_port)",
            ),
            (&own, 5432 - 2, "the hub's stats page", "node_port"),
            (&own, 5432 - 3, "the hub's node port", "node_port"),
            (&own, 15431 - 13, "the hub's pg10 port", "pg1's node port"),
            (&own, 15440, "the hub's write endpoint", "pg10's node port"),
            (
                &apart,
                7000 - 4,
                "the hub's pg1 port",
                "the write endpoint (write_port)",
            ),
            (
                &apart,
                7000 - 1,
                "the hub's read endpoint",
                "the write endpoint",
            ),
        ];
        for (own, port, hub_what, own_what) in cases {
            let hub = hub_settings(own, None, port).unwrap();
            let err = check_hub_apart(&hub, own).unwrap_err();
            assert!(
                err.contains(&format!("is both {hub_what} "))
                    && err.contains(&format!("and {own_what}"))
                    && err.contains("of your own cluster \"default\"")
                    && err.contains("--port"),
                "--port {port}: {err}"
            );
        }
        // Just past either end of the cluster's ports, the hub is fine.
        assert!(check_hub_apart(&hub_settings(&own, None, 15441).unwrap(), &own).is_ok());
        assert!(check_hub_apart(&hub_settings(&own, None, 15431 - 14).unwrap(), &own).is_ok());
        assert!(check_hub_apart(&hub_settings(&own, None, 5437).unwrap(), &own).is_ok());
        assert!(check_hub_apart(&hub_settings(&own, None, 5432 - 14).unwrap(), &own).is_ok());
    }
}
