//! What the host's network allows local nodes: loopback aliases or distinct ports, and which
//! ports something else already holds.

use std::net::{Ipv4Addr, SocketAddr};

use crate::cluster::topology::NodeAddressing;

/// Whether the OS lets a process bind addresses other than 127.0.0.1 (Linux does, macOS
/// only for configured aliases).
pub fn detect_addressing(base: Ipv4Addr) -> NodeAddressing {
    let probe = Ipv4Addr::from(u32::from(base) + 1);
    match std::net::TcpListener::bind((probe, 0)) {
        Ok(_) => NodeAddressing::LoopbackAliases,
        Err(_) => NodeAddressing::DistinctPorts,
    }
}

/// Whether binding `addr` fails because something holds it (also a wildcard listener).
pub fn port_in_use(addr: SocketAddr) -> bool {
    matches!(
        std::net::TcpListener::bind(addr),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
    )
}

/// Who holds a TCP port, when the OS tells (Linux: `ss`).
pub fn port_holder(port: u16) -> Option<String> {
    let out = std::process::Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let users = text.split("users:((").nth(1)?;
    let name = users.split('"').nth(1)?;
    Some(name.to_string())
}
