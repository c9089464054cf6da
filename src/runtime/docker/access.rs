//! What a node lets in, written into its data directory: `pg_hba.conf` and, where the cluster
//! speaks TLS, its certificate and the setting that turns TLS on.

use super::DockerRuntime;
use crate::cluster::certs;
use crate::cluster::pgconf::{self, HbaRules, SocketLogin};
use crate::cluster::topology::Topology;
use crate::runtime::{Error, Result};

/// Writes the login rules, and the certificate before the setting that makes the server read
/// it, each replaced whole: a reload never sees half a file. Needs [`DockerRuntime::access_env`].
pub(super) const ACCESS_SCRIPT: &str = r#"umask 077
if [ -n "$TLS_KEY" ]; then
  printf '%s' "$TLS_KEY" > "$PGDATA/server.key.next" && mv "$PGDATA/server.key.next" "$PGDATA/server.key"
  printf '%s' "$TLS_CERT" > "$PGDATA/server.crt.next" && mv "$PGDATA/server.crt.next" "$PGDATA/server.crt"
  printf '%s' "$TLS_CA" > "$PGDATA/$TLS_CA_FILE.next" && mv "$PGDATA/$TLS_CA_FILE.next" "$PGDATA/$TLS_CA_FILE"
fi
printf '%s' "$TLS_CONF_TEXT" > "$PGDATA/$TLS_CONF_FILE.next"
mv "$PGDATA/$TLS_CONF_FILE.next" "$PGDATA/$TLS_CONF_FILE"
printf '%s' "$HBA_CONF" > "$PGDATA/pg_hba.conf.next"
mv "$PGDATA/pg_hba.conf.next" "$PGDATA/pg_hba.conf"
"#;

impl DockerRuntime {
    /// Inside a container only its own accounts reach the socket; over TCP everything needs
    /// a password but the check login from HAProxy's fixed address.
    pub(super) fn hba(&self, topo: &Topology) -> Result<String> {
        let proxy = self.proxy_address();
        if topo.exposure.tls && proxy.is_none() {
            return Err(Error::new(
                "this cluster's Docker network gives HAProxy no fixed address, so what comes \
                 through the endpoints cannot be told apart from the app: `replica-lab down` \
                 and `up` again make a network that has one",
            ));
        }
        let rules = HbaRules {
            socket: SocketLogin::Trust,
            clients: "all".into(),
            // A network made before fixed addresses gives HAProxy any address: `down` and
            // `up` again make a network that has them.
            check_from: proxy.map_or_else(|| "all".into(), |a| format!("{a}/32")),
            exposed: topo.exposure.tls,
            endpoint_logins: topo.exposure.endpoint_logins.clone(),
        };
        Ok(pgconf::hba_conf(&topo.credentials, &rules))
    }

    /// What [`ACCESS_SCRIPT`] writes: the login rules and, where the cluster speaks TLS, its
    /// certificate.
    pub(super) fn access_env(&self, topo: &Topology) -> Result<Vec<(String, String)>> {
        let tls = certs::for_topology(&self.dir, topo)?;
        let (cert, key, ca) = tls
            .as_ref()
            .map(|t| (t.cert_pem.clone(), t.key_pem.clone(), t.ca_pem.clone()))
            .unwrap_or_default();
        Ok(vec![
            ("HBA_CONF".into(), self.hba(topo)?),
            ("TLS_CONF_TEXT".into(), pgconf::tls_conf(tls.is_some())),
            ("TLS_CONF_FILE".into(), pgconf::TLS_CONF.into()),
            ("TLS_CERT".into(), cert),
            ("TLS_KEY".into(), key),
            ("TLS_CA".into(), ca),
            ("TLS_CA_FILE".into(), pgconf::SERVER_CA.into()),
        ])
    }
}
