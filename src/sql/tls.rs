//! The app's TLS for a cluster whose endpoints listen beyond loopback: it trusts only the
//! cluster's own authority, checks the server's name, and presents the superuser's client
//! certificate, without which the servers refuse the superuser through HAProxy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::cluster::certs::{self, ClientIdentity};
use crate::cluster::topology::Topology;
use crate::error::{Error, Result as AppResult};

/// A connector for the cluster's endpoints; cheap to clone.
#[derive(Clone)]
pub struct ClusterTls {
    connector: MakeRustlsConnect,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterTls")
    }
}

impl ClusterTls {
    /// The connector for `identity`; the error says which part cannot be used.
    pub fn new(identity: &ClientIdentity) -> Result<ClusterTls, String> {
        let pem_certs = |what: &str, pem: &str| {
            CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the cluster's {what} is not PEM: {e}"))
        };
        let mut roots = RootCertStore::empty();
        let (_, unreadable) =
            roots.add_parsable_certificates(pem_certs("authority (tls/ca.crt)", &identity.ca_pem)?);
        if roots.is_empty() {
            return Err(format!(
                "the cluster's authority (tls/ca.crt) holds no usable certificate ({unreadable} \
                 unreadable)"
            ));
        }
        let chain = pem_certs("client certificate (tls/client.crt)", &identity.cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
            .map_err(|e| format!("the cluster's client key (tls/client.key) is not PEM: {e}"))?;
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS is not usable here: {e}"))?
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the cluster's client certificate cannot be used: {e}"))?;
        Ok(ClusterTls {
            connector: MakeRustlsConnect::new(config),
        })
    }

    /// The connector for the cluster in `cluster_dir`, `None` when its endpoints do not speak
    /// TLS.
    pub fn for_cluster(cluster_dir: &std::path::Path, topo: &Topology) -> AppResult<Option<Self>> {
        match certs::client_identity(cluster_dir, topo)? {
            Some(identity) => ClusterTls::new(&identity).map(Some).map_err(Error::new),
            None => Ok(None),
        }
    }

    pub fn connector(&self) -> MakeRustlsConnect {
        self.connector.clone()
    }
}

/// Where a client on this machine reaches an endpoint that listens on every address: on
/// loopback, a name the cluster's certificate carries.
pub fn dialable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::certs;

    #[test]
    fn the_clusters_own_identity_makes_a_connector_and_junk_is_named() {
        let made = certs::make("c", &["127.0.0.1".into()], "myuser").expect("certificates");
        assert!(ClusterTls::new(&made.client).is_ok());
        let mut broken = made.client.clone();
        broken.key_pem = "not a key".into();
        let e = ClusterTls::new(&broken).expect_err("no key");
        assert!(e.contains("tls/client.key"), "{e}");
        let mut broken = made.client;
        broken.ca_pem = String::new();
        let e = ClusterTls::new(&broken).expect_err("no authority");
        assert!(e.contains("tls/ca.crt"), "{e}");
    }

    #[test]
    fn an_endpoint_on_every_address_is_dialled_on_loopback() {
        let any: SocketAddr = "0.0.0.0:5435".parse().expect("address");
        assert_eq!(dialable(any).to_string(), "127.0.0.1:5435");
        let one: SocketAddr = "10.0.0.5:5435".parse().expect("address");
        assert_eq!(dialable(one), one);
    }
}
