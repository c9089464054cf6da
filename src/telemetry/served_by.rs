//! Who answers the read endpoint: fresh connections, one after another, each asking
//! `inet_server_addr()`. HAProxy balances connections, so only new ones move.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::NoTls;

use super::model::Snapshot;
use crate::settings::Credentials;
use crate::sql::tls::{ClusterTls, dialable};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Connections per answering address.
    pub by_address: BTreeMap<String, usize>,
    /// Why connections failed, one entry per failure.
    pub failures: Vec<String>,
}

impl Tally {
    /// Counts per node name, using the snapshot's addresses; unknown addresses keep theirs.
    pub fn by_node(&self, snap: &Snapshot) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (addr, n) in &self.by_address {
            let name = snap
                .nodes
                .iter()
                .find(|node| &node.address == addr)
                .map(|node| node.name.clone())
                .unwrap_or_else(|| addr.clone());
            *out.entry(name).or_insert(0) += n;
        }
        out
    }
}

/// Opens `connections` fresh sessions on `endpoint` in turn, over `tls` where the cluster's
/// endpoints speak it.
pub async fn served_by(
    endpoint: SocketAddr,
    creds: &Credentials,
    tls: Option<&ClusterTls>,
    connections: usize,
) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..connections {
        match tokio::time::timeout(Duration::from_secs(3), ask(endpoint, creds, tls)).await {
            Ok(Ok(addr)) => *tally.by_address.entry(addr).or_insert(0) += 1,
            Ok(Err(e)) => tally.failures.push(e),
            Err(_) => tally.failures.push("no answer within 3 s".into()),
        }
    }
    tally
}

async fn ask(
    endpoint: SocketAddr,
    creds: &Credentials,
    tls: Option<&ClusterTls>,
) -> Result<String, String> {
    let endpoint = dialable(endpoint);
    let mut config = tokio_postgres::Config::new();
    config
        .host(endpoint.ip().to_string())
        .port(endpoint.port())
        .user(&creds.user)
        .password(&creds.password)
        .dbname(&creds.database)
        .application_name("replica-lab-served-by");
    let (client, task) = match tls {
        Some(tls) => {
            let (client, conn) = config
                .connect(tls.connector())
                .await
                .map_err(|e| crate::sql::error_chain(&e))?;
            (client, tokio::spawn(async move { conn.await.map(|_| ()) }))
        }
        None => {
            let (client, conn) = config
                .connect(NoTls)
                .await
                .map_err(|e| crate::sql::error_chain(&e))?;
            (client, tokio::spawn(async move { conn.await.map(|_| ()) }))
        }
    };
    let row = client
        .query_one("SELECT host(inet_server_addr())", &[])
        .await
        .map_err(|e| e.to_string())?;
    drop(client);
    let _ = task.await;
    row.try_get::<_, Option<String>>(0)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the server answered over a unix socket".to_string())
}
