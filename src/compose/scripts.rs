//! The shell scripts `compose.yaml` runs: each node's entry point (bootstrap on an empty
//! volume, then `exec postgres`) and the health checks `up --wait` waits on.

use super::{
    NODE_PLACEHOLDER, PG_PORT, PRIMARY_HOST, REPLICA_NAME_SH, SOCKET_DIR, bootstrap_sql,
    generated_header, hba_rules, inner_endpoints, primary_node_conf, replica_node_conf,
};
use crate::cluster::pgconf::{self, NODE_CONF, STANDBY_SIGNAL};
use crate::runtime::docker::engine::sh_quote;
use crate::settings::Credentials;

const EOF_MARK: &str = "REPLICA_LAB_EOF";

pub(super) fn primary(creds: &Credentials) -> String {
    let mut s = script_header(
        "The compose cluster's primary. On an empty volume: initdb with the settings every\n\
         # replica-lab node shares, then the roles and database the app creates. Then PostgreSQL\n\
         # itself becomes the container's main process, so stopping the container is a clean\n\
         # shutdown and killing it a crash.",
    );
    s.push_str(&format!(
        r#"set -eu
: "${{PGDATA:?PGDATA must name the data directory}}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Built aside and moved into place once complete: a run cut short starts over.
  new="$PGDATA.init"
  rm -rf "$new"
  (umask 077 && printf '%s\n' {superuser_password} > /tmp/superuser-password)
  initdb -D "$new" -U postgres --pwfile=/tmp/superuser-password \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync --no-instructions
  rm -f /tmp/superuser-password
  cat >> "$new/postgresql.conf" <<'{EOF_MARK}'
{shared}{EOF_MARK}
  cat > "$new/pg_hba.conf" <<'{EOF_MARK}'
{hba}{EOF_MARK}
  cat > "$new/{NODE_CONF}" <<'{EOF_MARK}'
{node}{EOF_MARK}
  # Roles and database over the unix socket only: no client can connect meanwhile.
  pg_ctl -D "$new" -w -s -o "-c listen_addresses=''" start
  psql -X -q -v ON_ERROR_STOP=1 -h {SOCKET_DIR} -p {PG_PORT} -U postgres -d postgres <<'{EOF_MARK}'
{sql}{EOF_MARK}
  pg_ctl -D "$new" -w -s -m fast stop
  rm -rf "$PGDATA"
  mv "$new" "$PGDATA"
fi
exec postgres -D "$PGDATA"
"#,
        superuser_password = sh_quote(&creds.password),
        shared = heredoc_body(&pgconf::shared_conf()),
        hba = heredoc_body(&pgconf::hba_conf(creds, &hba_rules())),
        node = heredoc_body(&primary_node_conf(creds)),
        sql = heredoc_body(&bootstrap_sql(creds)),
    ));
    s
}

pub(super) fn replica(creds: &Credentials) -> String {
    let mut s = script_header(
        "A compose cluster replica (scalable: `--scale replica=N`). On an empty volume: its own\n\
         # physical replication slot on the primary, named after this container's host name, then\n\
         # a clone with pg_basebackup through that slot, marked as a hot standby. Then PostgreSQL\n\
         # itself becomes the container's main process, streaming from the primary.",
    );
    s.push_str(&format!(
        r#"set -eu
: "${{PGDATA:?PGDATA must name the data directory}}"

# The name of this replica's slot, its cluster_name and its application_name on the primary.
{REPLICA_NAME_SH}# For psql and pg_basebackup, as the replication login.
export PGPASSWORD={repl_password}

# As the replication login, with its password: a probe that logs no failed login (the check
# login is let in from HAProxy's address only).
wait_for_primary() {{
  until pg_isready -q -h {PRIMARY_HOST} -p {PG_PORT} -U {repl_user} -d postgres; do
    # A fraction of a second where sleep takes one (POSIX only promises whole seconds).
    sleep 0.2 2>/dev/null || sleep 1
  done
}}

# As the app does before a clone: the slot keeps the WAL this replica still needs.
ensure_slot() {{
  psql -X -q -A -t -v ON_ERROR_STOP=1 -v slot="$NODE" -h {PRIMARY_HOST} -p {PG_PORT} \
    -U {repl_user} -d postgres >/dev/null <<'{EOF_MARK}'
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
{EOF_MARK}
}}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  wait_for_primary
  ensure_slot
  # Cloned aside and moved into place once complete: a run cut short starts over.
  new="$PGDATA.clone"
  rm -rf "$new"
  PGAPPNAME="$NODE-clone" pg_basebackup -D "$new" -h {PRIMARY_HOST} -p {PG_PORT} \
    -U {repl_user} -w -X stream -c fast --no-sync -S "$NODE"
  : > "$new/{STANDBY_SIGNAL}"
  rm -rf "$PGDATA"
  mv "$new" "$PGDATA"
elif ! grep -qxF "cluster_name = '$NODE'" "$PGDATA/{NODE_CONF}"; then
  # The volume outlived its container (Compose re-created it): a new host name, a new slot.
  wait_for_primary
  ensure_slot
fi
# Who this node is and whom it streams from (the clone copied the primary's own file).
sed "s/{NODE_PLACEHOLDER}/$NODE/g" > "$PGDATA/{NODE_CONF}" <<'{EOF_MARK}'
{node}{EOF_MARK}
exec postgres -D "$PGDATA"
"#,
        repl_password = sh_quote(&creds.replication_password),
        repl_user = sh_quote(&creds.replication_user),
        node = heredoc_body(&replica_node_conf(creds)),
    ));
    s
}

pub(super) fn healthcheck(creds: &Credentials) -> String {
    let ep = inner_endpoints();
    let mut s = script_header(
        "Docker health checks, so `docker compose up --wait` returns once the cluster serves:\n\
         #   healthcheck.sh primary   accepts connections and is not in recovery\n\
         #   healthcheck.sh replica   accepts read-only connections (a hot standby)\n\
         #   healthcheck.sh haproxy   every endpoint listens, and HAProxy's first round of role\n\
         #                            checks is done\n\
         # The PostgreSQL checks log in over TCP as the replication login (the check login is\n\
         # let in from HAProxy's address only); that the login works also shows the primary's\n\
         # bootstrap, which listens on no TCP address, finished.",
    );
    s.push_str(&format!(
        r#"set -eu

# Whether something listens on TCP port $1 (IPv4) in this container.
listening() {{
  want=$(printf ':%04X' "$1")
  while read -r _ addr _ state _; do
    case "$addr" in
      *"$want") [ "$state" != 0A ] || return 0 ;;
    esac
  done < /proc/net/tcp
  return 1
}}

# Hundredths of a second since process $1 started.
age() {{
  # Seconds since boot, with two decimals.
  read -r now _ < /proc/uptime
  # Field 22 of /proc/PID/stat: the start time, in clock ticks after boot.
  # shellcheck disable=SC2046 # split on purpose
  set -- $(cat "/proc/$1/stat")
  shift 21
  hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
  echo $((${{now%.*}}${{now#*.}} - $1 * 100 / hz))
}}

in_recovery() {{
  PGPASSWORD={repl_password} PGCONNECT_TIMEOUT=3 psql -X -A -t -h 127.0.0.1 -p {PG_PORT} \
    -U {repl_user} -d postgres -c 'SELECT pg_is_in_recovery()'
}}

case "${{1:-}}" in
  primary) [ "$(in_recovery)" = f ] ;;
  replica) [ "$(in_recovery)" = t ] ;;
  haproxy)
    for port in {write} {read} {stats}; do
      listening "$port"
    done
    # A fresh HAProxy counts every server up until its first check says otherwise; the
    # first checks are spread over `inter` (1 s) and a wrong role fails at once.
    [ "$(age 1)" -ge 150 ]
    ;;
  *)
    echo "usage: $0 primary|replica|haproxy" >&2
    exit 2
    ;;
esac
"#,
        repl_user = sh_quote(&creds.replication_user),
        repl_password = sh_quote(&creds.replication_password),
        write = ep.write.port(),
        read = ep.read.port(),
        stats = ep.stats.port(),
    ));
    s
}

fn script_header(purpose: &str) -> String {
    format!("#!/bin/sh\n{}#\n# {purpose}\n\n", generated_header())
}

/// Text for a quoted here-document: ends with a newline, and no line ends it early.
fn heredoc_body(text: &str) -> String {
    assert!(
        !text.lines().any(|l| l == EOF_MARK),
        "a line of embedded text equals the here-document delimiter"
    );
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}
