//! The certificates of a cluster whose endpoints listen beyond loopback: an authority made for
//! this cluster alone, the one server certificate it signs for every name and address the
//! endpoints are reached by, and one client certificate for the superuser, the app's own
//! identity: through the endpoints the superuser logs in with it or not at all, so a password
//! seen on the network is not enough. The authority's key is dropped once it has signed, so
//! nothing, the app included, can make another certificate it vouches for; clients that
//! verify the servers trust `tls/ca.crt` in the cluster's folder.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::topology::Topology;
use crate::error::{Error, Result};

/// PEM texts the servers need (the authority's certificate also checks client certificates),
/// and the superuser's client certificate and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub client: ClientIdentity,
}

/// What the app presents through the endpoints: a certificate naming the superuser, its key,
/// and the authority the servers' certificate must chain to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Where a cluster keeps its certificates.
pub fn tls_dir(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("tls")
}

/// The authority's certificate, for `sslrootcert`.
pub fn ca_path(cluster_dir: &Path) -> PathBuf {
    tls_dir(cluster_dir).join("ca.crt")
}

/// What the certificate names: the endpoints' address (every local one when they listen on
/// all), this machine's name and loopback, so `sslmode=verify-full` holds however a client
/// on the network or on this machine reaches it.
pub fn names_for(endpoint: IpAddr, host_name: Option<&str>) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !endpoint.is_unspecified() {
        names.push(endpoint.to_string());
    }
    if let Some(h) = host_name.map(str::trim).filter(|h| !h.is_empty()) {
        names.push(h.to_string());
    }
    names.dedup();
    names
}

/// A new authority, a server certificate it signed for `names` (DNS names or addresses) and a
/// client certificate for the login `superuser` (PostgreSQL's `cert` method matches its common
/// name).
pub fn make(
    cluster: &str,
    names: &[String],
    superuser: &str,
) -> std::result::Result<ServerTls, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("replica-lab {cluster} authority"),
    );
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut server = CertificateParams::new(Vec::<String>::new())?;
    server.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName),
        })
        .collect::<std::result::Result<_, _>>()?;
    server
        .distinguished_name
        .push(DnType::CommonName, format!("replica-lab {cluster}"));
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = server.signed_by(&key, &issuer)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, superuser.to_string());
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &issuer)?;
    Ok(ServerTls {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        client: ClientIdentity {
            ca_pem: ca_cert.pem(),
            cert_pem: client_cert.pem(),
            key_pem: client_key.serialize_pem(),
        },
    })
}

/// The cluster's certificates, made on first use and kept in `tls/` (the keys readable by
/// their owner only), so every node and every later `up` serves the same ones. A folder from
/// before client certificates is made anew whole: one authority signs all of them.
pub fn load_or_make(
    cluster_dir: &Path,
    cluster: &str,
    names: &[String],
    superuser: &str,
) -> Result<ServerTls> {
    let dir = tls_dir(cluster_dir);
    let files = files(cluster_dir);
    let read = |p: &PathBuf| std::fs::read_to_string(p).ok();
    if let [
        Some(ca_pem),
        Some(cert_pem),
        Some(key_pem),
        Some(client_cert),
        Some(client_key),
    ] = files.each_ref().map(read)
    {
        return Ok(ServerTls {
            client: ClientIdentity {
                ca_pem: ca_pem.clone(),
                cert_pem: client_cert,
                key_pem: client_key,
            },
            ca_pem,
            cert_pem,
            key_pem,
        });
    }
    let made = make(cluster, names, superuser)
        .map_err(|e| Error::new(format!("cannot make the cluster's TLS certificate: {e}")))?;
    let fail =
        |p: &Path, e: std::io::Error| Error::new(format!("cannot write {}: {e}", p.display()));
    std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
    // The authority last: a folder holding it holds everything it signed.
    for (path, text, mode) in [
        (&files[2], &made.key_pem, 0o600),
        (&files[1], &made.cert_pem, 0o644),
        (&files[4], &made.client.key_pem, 0o600),
        (&files[3], &made.client.cert_pem, 0o644),
        (&files[0], &made.ca_pem, 0o644),
    ] {
        write_with_mode(path, text, mode).map_err(|e| fail(path, e))?;
    }
    Ok(made)
}

/// The authority, server certificate and key, client certificate and key.
fn files(cluster_dir: &Path) -> [PathBuf; 5] {
    let dir = tls_dir(cluster_dir);
    [
        ca_path(cluster_dir),
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("client.crt"),
        dir.join("client.key"),
    ]
}

/// The app's identity for the endpoints of the cluster in `cluster_dir`, when its topology
/// speaks TLS; `None` when it does not. Missing files are an error naming them: the servers
/// would refuse the superuser without them.
pub fn client_identity(cluster_dir: &Path, topo: &Topology) -> Result<Option<ClientIdentity>> {
    if !topo.exposure.tls {
        return Ok(None);
    }
    let [ca, _, _, cert, key] = files(cluster_dir);
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| {
            Error::new(format!(
                "cannot read {}: {e}; `replica-lab up` makes it again",
                p.display()
            ))
        })
    };
    Ok(Some(ClientIdentity {
        ca_pem: read(&ca)?,
        cert_pem: read(&cert)?,
        key_pem: read(&key)?,
    }))
}

/// This machine's name, as other machines on the network may know it.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// What a node of `topo` serves: the cluster's certificates when it speaks TLS.
pub fn for_topology(cluster_dir: &Path, topo: &Topology) -> Result<Option<ServerTls>> {
    if !topo.exposure.tls {
        return Ok(None);
    }
    let names = names_for(topo.endpoints.write.ip(), host_name().as_deref());
    load_or_make(cluster_dir, &topo.cluster, &names, &topo.credentials.user).map(Some)
}

fn write_with_mode(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_endpoint_this_machine_and_loopback() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            names_for(ip, Some("lab\n")),
            ["localhost", "127.0.0.1", "10.1.2.3", "lab"]
        );
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert_eq!(names_for(any, None), ["localhost", "127.0.0.1"]);
    }

    #[test]
    fn certificates_are_made_once_and_the_key_stays_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let names = names_for("10.1.2.3".parse().unwrap(), Some("lab"));
        let first = load_or_make(dir.path(), "c", &names, "myuser").unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(first.key_pem.contains("PRIVATE KEY"));
        assert!(first.client.key_pem.contains("PRIVATE KEY"));
        assert_ne!(first.ca_pem, first.cert_pem);
        assert_ne!(first.cert_pem, first.client.cert_pem);
        assert_eq!(first.client.ca_pem, first.ca_pem);
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(tls_dir(dir.path()).join("server.key")), 0o600);
        assert_eq!(mode(tls_dir(dir.path()).join("client.key")), 0o600);
        assert_eq!(mode(ca_path(dir.path())), 0o644);
        assert_eq!(
            load_or_make(dir.path(), "c", &names, "myuser").unwrap(),
            first
        );
        // A folder from before client certificates: everything anew, under one authority.
        std::fs::remove_file(tls_dir(dir.path()).join("client.key")).unwrap();
        let again = load_or_make(dir.path(), "c", &names, "myuser").unwrap();
        assert_ne!(again.ca_pem, first.ca_pem);
        assert_eq!(again.client.ca_pem, again.ca_pem);
    }
}
