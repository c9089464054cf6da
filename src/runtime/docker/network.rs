//! The cluster network, on a subnet of its own so every node keeps one fixed address.
//!
//! HAProxy reaches the nodes by address, not through Docker's DNS: a name that stops resolving
//! (a stopped or cut-off container) puts its server in `MAINT (resolution)`, and HAProxy 2.6
//! brings it back UP, before any check, the moment the name resolves again, so a returning
//! standby took writes. A fixed address stays, so a returning node is DOWN until its check
//! has seen its role. Nodes still find each other by alias.

use std::net::Ipv4Addr;

use super::*;
use bollard::models::{EndpointIpamConfig, Ipam, IpamConfig};

/// Where cluster subnets are taken from: one /24 per cluster, chosen by name, the next free
/// one when another network already holds it.
const SUBNET_FIRST: [u8; 2] = [10, 213];
/// Addresses Docker hands out on its own (one-shot containers, HAProxy) come from the upper
/// half, so they never take a node's.
const DYNAMIC_RANGE_FROM: u8 = 128;
/// pgN sits at `.(NODE_OFFSET + N)`.
const NODE_OFFSET: u8 = 10;
/// HAProxy's fixed address, below the nodes and the dynamic range: the nodes let the
/// health-check login in from here only.
const PROXY_HOST: u8 = 5;

/// A cluster network's subnet: `a.b.c.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Subnet([u8; 3]);

impl Subnet {
    fn cidr(self) -> String {
        let [a, b, c] = self.0;
        format!("{a}.{b}.{c}.0/24")
    }

    fn host(self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.0;
        Ipv4Addr::new(a, b, c, last)
    }

    pub(super) fn node(self, index: u8) -> Ipv4Addr {
        self.host(NODE_OFFSET.saturating_add(index))
    }

    pub(super) fn proxy(self) -> Ipv4Addr {
        self.host(PROXY_HOST)
    }

    fn ipam(self) -> Ipam {
        Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(self.cidr()),
                ip_range: Some(format!("{}/25", self.host(DYNAMIC_RANGE_FROM))),
                gateway: Some(self.host(1).to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn parse(cidr: &str) -> Option<Subnet> {
        let (addr, bits) = cidr.split_once('/')?;
        if bits != "24" {
            return None;
        }
        let [a, b, c, _] = addr.parse::<Ipv4Addr>().ok()?.octets();
        Some(Subnet([a, b, c]))
    }
}

/// Subnets to try for `cluster`, the one its name picks first, so two clusters rarely race
/// for the same one.
pub(super) fn candidates(cluster: &str) -> impl Iterator<Item = Subnet> {
    // FNV-1a: stable across builds, unlike the standard hasher.
    let hash = cluster.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let start = hash.to_le_bytes()[0];
    (0..=255u8).map(move |i| {
        let [a, b] = SUBNET_FIRST;
        Subnet([a, b, start.wrapping_add(i)])
    })
}

impl DockerRuntime {
    /// The subnet of the cluster's network, if it exists and is one of ours.
    pub(super) async fn lookup_subnet(&self) -> Option<Subnet> {
        let n = self
            .docker
            .inspect_network(&self.network(), None)
            .await
            .ok()?;
        n.ipam?
            .config?
            .iter()
            .find_map(|c| c.subnet.as_deref().and_then(Subnet::parse))
    }

    /// Creates the network on the first free candidate subnet and remembers it.
    pub(super) async fn create_network(&self) -> Result<()> {
        let mut last = None;
        for subnet in candidates(&self.cluster) {
            let made = self
                .docker
                .create_network(NetworkCreateRequest {
                    name: self.network(),
                    driver: Some("bridge".into()),
                    labels: Some(self.labels(None)),
                    ipam: Some(subnet.ipam()),
                    ..Default::default()
                })
                .await;
            match made {
                Ok(_) => {
                    self.remember_subnet(Some(subnet));
                    return Ok(());
                }
                Err(e) if e.to_string().contains("overlap") => last = Some(e),
                Err(e) => return Err(api_error("creating the cluster network", e)),
            }
        }
        Err(match last {
            Some(e) => api_error(
                &format!(
                    "creating the cluster network: every subnet in {}.{}.0.0/16 is taken by \
                     other networks (docker network ls)",
                    SUBNET_FIRST[0], SUBNET_FIRST[1]
                ),
                e,
            ),
            None => Error::new("creating the cluster network: no subnet to try"),
        })
    }

    pub(super) fn remember_subnet(&self, subnet: Option<Subnet>) {
        if let Ok(mut guard) = self.subnet.lock() {
            *guard = subnet;
        }
    }

    pub(super) fn subnet(&self) -> Option<Subnet> {
        self.subnet.lock().ok().and_then(|g| *g)
    }

    /// The node's fixed address, when the network has a subnet of ours (one made before
    /// fixed addresses has not).
    pub(super) fn node_address(&self, node: &NodeSpec) -> Option<Ipv4Addr> {
        self.subnet().map(|s| s.node(node.index))
    }

    /// HAProxy's fixed address, when the network has a subnet of ours.
    pub(super) fn proxy_address(&self) -> Option<Ipv4Addr> {
        self.subnet().map(Subnet::proxy)
    }

    /// A container's place on the cluster network: its alias, and its fixed address if any.
    pub(super) fn endpoint(&self, alias: &str, address: Option<Ipv4Addr>) -> EndpointSettings {
        let ipam_config = address.map(|a| EndpointIpamConfig {
            ipv4_address: Some(a.to_string()),
            ..Default::default()
        });
        EndpointSettings {
            aliases: Some(vec![alias.to_string()]),
            ipam_config,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_sit_below_the_dynamic_range() {
        let s = Subnet([10, 213, 7]);
        assert_eq!(s.node(1), Ipv4Addr::new(10, 213, 7, 11));
        assert_eq!(s.node(10), Ipv4Addr::new(10, 213, 7, 20));
        assert!(s.node(10).octets()[3] < DYNAMIC_RANGE_FROM);
        // HAProxy's address is not the gateway's, no node's and outside the dynamic range.
        assert_eq!(s.proxy(), Ipv4Addr::new(10, 213, 7, 5));
        assert!((1..=crate::settings::MAX_NODES).all(|i| s.node(i) != s.proxy()));
        assert!(s.proxy().octets()[3] > 1 && s.proxy().octets()[3] < DYNAMIC_RANGE_FROM);
        let ipam = s.ipam();
        let c = &ipam.config.as_deref().unwrap_or_default()[0];
        assert_eq!(c.subnet.as_deref(), Some("10.213.7.0/24"));
        assert_eq!(c.ip_range.as_deref(), Some("10.213.7.128/25"));
        assert_eq!(c.gateway.as_deref(), Some("10.213.7.1"));
    }

    #[test]
    fn candidates_cover_every_subnet_once_starting_from_the_name() {
        let a: Vec<Subnet> = candidates("lab").collect();
        assert_eq!(a.len(), 256);
        let mut thirds: Vec<u8> = a.iter().map(|s| s.0[2]).collect();
        thirds.sort_unstable();
        thirds.dedup();
        assert_eq!(thirds.len(), 256);
        assert_eq!(candidates("lab").next(), candidates("lab").next());
        assert_ne!(candidates("lab").next(), candidates("other").next());
    }

    #[test]
    fn subnets_parse_back() {
        assert_eq!(Subnet::parse("10.213.9.0/24"), Some(Subnet([10, 213, 9])));
        assert_eq!(Subnet::parse("172.18.0.0/16"), None);
        assert_eq!(Subnet::parse("garbage"), None);
    }
}
