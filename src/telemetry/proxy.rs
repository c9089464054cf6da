//! Asking HAProxy for its servers, and saying why it cannot be asked.

use std::time::Duration;

use super::model::ProxyView;
use crate::cluster::haproxy::parse_stat_csv;
use crate::runtime::ClusterRuntime;

/// One `show stat`; when it fails, the runtime tells whether HAProxy runs at all.
pub async fn poll(rt: &dyn ClusterRuntime, timeout: Duration) -> ProxyView {
    let api = match tokio::time::timeout(timeout, rt.proxy_api("show stat")).await {
        Ok(Ok(csv)) => return ProxyView::up(parse_stat_csv(&csv)),
        Ok(Err(e)) => e.to_string(),
        Err(_) => within(timeout),
    };
    let running = match tokio::time::timeout(timeout, rt.proxy_running()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(within(timeout)),
    };
    ProxyView::down(down_cause(&api, running))
}

fn within(timeout: Duration) -> String {
    format!(
        "HAProxy's runtime API did not answer within {} ms",
        timeout.as_millis()
    )
}

/// Why HAProxy is down and what repairs it, from the runtime API's failure and whether the
/// process (or container) runs.
pub fn down_cause(api_error: &str, running: Result<bool, String>) -> String {
    // Cause and repair first: a one-line view cuts the end.
    match running {
        Ok(false) => "HAProxy is not running: `replica-lab up` starts it again; until then \
                      nothing serves the write and read endpoints"
            .to_string(),
        Ok(true) => format!(
            "HAProxy is running but its runtime API does not answer: `replica-lab up` \
             restarts it ({api_error})"
        ),
        Err(e) => format!(
            "HAProxy does not answer, and whether it runs cannot be told ({e}): once that is \
             repaired, `replica-lab up` restarts it ({api_error})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_names_what_is_wrong_and_the_repair() {
        let gone = down_cause("connection refused", Ok(false));
        assert!(gone.starts_with("HAProxy is not running:"), "{gone}");
        assert!(gone.contains("`replica-lab up`"), "{gone}");

        let stuck = down_cause("did not answer within 800 ms", Ok(true));
        assert!(
            stuck.starts_with("HAProxy is running but its runtime API does not answer"),
            "{stuck}"
        );
        assert!(stuck.contains("did not answer within 800 ms"), "{stuck}");
        assert!(stuck.contains("`replica-lab up`"), "{stuck}");

        let unknown = down_cause("refused", Err("Docker engine unreachable".into()));
        assert!(unknown.contains("refused"), "{unknown}");
        assert!(unknown.contains("Docker engine unreachable"), "{unknown}");
        assert!(unknown.contains("`replica-lab up`"), "{unknown}");
    }
}
