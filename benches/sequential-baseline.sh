#!/usr/bin/env bash
# The straightforward way to build what `replica-lab up --runtime local --replicas 3` builds,
# one step after another: initdb, start the primary, roles and slots, then three
# pg_basebackups in a row (each replica configured and started before the next clone), then
# HAProxy, then wait until every replica streams and HAProxy's checks agree with the roles.
#
# benches/cluster_up.rs runs it as the baseline for `up`; it also runs on its own:
#     bash benches/sequential-baseline.sh
#
# Same settings as the app: the same initdb flags, postgresql.conf additions, pg_hba.conf,
# roles, slots, per-node configuration, loopback addresses (127.0.0.11.. port 5432) and the
# same HAProxy configuration (only the file paths differ): the one the app renders when
# BASELINE_HAPROXY_CFG names a copy of it, else an equivalent one written out below. "Ready" means what it means
# for `up`: pg2..pg4 streaming, and in HAProxy pg1 UP in `write` and DOWN in `read`, the
# replicas UP in `read` and DOWN in `write`, every UP server checked at least once.
#
# Prints one line per phase (`  <phase>   <seconds> s`), then `READY <seconds>`, then cleans
# up everything it started and `cleanup <seconds>`. Everything is removed on exit, also after
# a failure or Ctrl-C.
#
# Environment:
#   BASELINE_PARENT   folder for the work folder (default /var/tmp; the servers' user must
#                     be able to traverse it)
#   BASELINE_HOLD=1   after READY, print `holding` and wait until stdin closes before
#                     cleaning up (lets a caller measure the running cluster)
#   BASELINE_HAPROXY_CFG   an haproxy.cfg the app rendered, with its cluster folder replaced
#                     by @DIR@ (benches/cluster_up.rs passes one)
#   REPLICA_LAB_PG_BINDIR, REPLICA_LAB_HAPROXY_BIN, REPLICA_LAB_OS_USER   as for replica-lab
set -euo pipefail

REPLICAS=3
NODE_PORT=5432
WRITE=127.0.0.1:5435
READ=127.0.0.1:5436
STATS=127.0.0.1:8404
READY_TIMEOUT_S=90
REPL_USER=replicator
REPL_PASSWORD=replicator-secret
CHECK_USER=haproxy_check
OS_USER=${REPLICA_LAB_OS_USER:-postgres}

NODES=()
for ((i = 1; i <= REPLICAS + 1; i++)); do NODES+=("pg$i"); done
REPLICA_NODES=("${NODES[@]:1}")
node_host() { echo "127.0.0.$((10 + ${1#pg}))"; }

die() {
    echo "baseline: $*" >&2
    exit 1
}

# --- timing (microseconds, no forks) ---------------------------------------------------
now() { NOW=${EPOCHREALTIME//[!0-9]/}; }
secs() { printf '%d.%02d' $(($1 / 1000000)) $((($1 % 1000000) / 10000)); }
now
T_START=$NOW

# --- programs, found the way replica-lab finds them -------------------------------------
has_server_programs() {
    local p
    for p in postgres initdb pg_ctl pg_basebackup pg_rewind psql; do
        [[ -f $1/$p ]] || return 1
    done
}

find_pg_bindir() {
    local c candidates=()
    if [[ -n ${REPLICA_LAB_PG_BINDIR:-} ]]; then
        has_server_programs "$REPLICA_LAB_PG_BINDIR" ||
            die "REPLICA_LAB_PG_BINDIR=$REPLICA_LAB_PG_BINDIR does not hold the server programs"
        echo "$REPLICA_LAB_PG_BINDIR"
        return
    fi
    if c=$(command -v initdb 2>/dev/null); then candidates+=("$(dirname "$c")"); fi
    if c=$(pg_config --bindir 2>/dev/null); then candidates+=("$c"); fi
    # Debian keeps the server programs off PATH: /usr/lib/postgresql/<major>/bin, newest first.
    while IFS= read -r c; do
        candidates+=("$c")
    done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -t/ -k5,5nr)
    for c in "${candidates[@]}"; do
        if has_server_programs "$c"; then
            echo "$c"
            return
        fi
    done
    die "PostgreSQL server programs not found: install them or set REPLICA_LAB_PG_BINDIR"
}

find_haproxy() {
    local c
    if [[ -n ${REPLICA_LAB_HAPROXY_BIN:-} ]]; then
        echo "$REPLICA_LAB_HAPROXY_BIN"
        return
    fi
    for c in "$(command -v haproxy 2>/dev/null || true)" /usr/sbin/haproxy /usr/local/sbin/haproxy; do
        if [[ -n $c && -f $c ]]; then
            echo "$c"
            return
        fi
    done
    die "haproxy not found: install it or set REPLICA_LAB_HAPROXY_BIN"
}

PGBIN=$(find_pg_bindir)
HAPROXY=$(find_haproxy)

# PostgreSQL refuses to run as root: as root, every server runs as $OS_USER.
AS=()
OWNER=
if ((EUID == 0)); then
    id -u "$OS_USER" >/dev/null 2>&1 ||
        die "running as root, but the user $OS_USER the servers must run as does not exist"
    AS=(runuser -u "$OS_USER" --)
    OWNER="$OS_USER:"
fi

# No inherited libpq settings may point a command elsewhere.
unset PGHOST PGPORT PGDATA PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD
export PGPASSFILE=/dev/null

# --- nothing may be listening where the cluster will ---------------------------------------
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for addr in "$WRITE" "$READ" "$STATS"; do
    ! listening "$addr" || die "$addr is busy: stop whatever listens there first"
done
for n in "${NODES[@]}"; do
    addr="$(node_host "$n"):$NODE_PORT"
    ! listening "$addr" || die "$addr ($n) is busy: stop whatever listens there first"
done

# --- work folder and cleanup ---------------------------------------------------------------
PARENT=${BASELINE_PARENT:-/var/tmp}
W=$(mktemp -d "$PARENT/replica-lab-baseline.XXXXXX")
chmod 0755 "$W"
[[ -z $OWNER ]] || chown "$OWNER" "$W"
cd "$W"
echo "workdir $W"
STEP_LOG=$W/step.log

# Every process whose command line names the work folder or that runs in it or in a node's
# data folder (server processes rewrite their command lines). Builtins only: no forks.
processes_under() {
    local p pid dir args
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
        args=()
        mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
        if [[ "${args[*]}" == *"$W"* ]]; then
            echo "$pid"
            continue
        fi
        for dir in "$W" "$W"/pg*/data; do
            if [[ $p/cwd -ef $dir ]]; then
                echo "$pid"
                break
            fi
        done
    done
}

cleanup() {
    local rc=$? n pid t0
    set +e
    trap - EXIT INT TERM
    cd /
    now
    t0=$NOW
    if [[ -f $W/haproxy/haproxy.pid ]]; then
        kill -TERM "$(head -n 1 "$W/haproxy/haproxy.pid")" 2>/dev/null
    fi
    for n in "${NODES[@]}"; do
        if [[ -f $W/$n/data/postmaster.pid ]]; then
            "${AS[@]}" "$PGBIN/pg_ctl" -D "$W/$n/data" -m immediate -w -t 30 stop >/dev/null 2>&1
        fi
    done
    # Whatever survived (a half-done clone, a wedged server) is killed outright.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pid=$(processes_under)
        [[ -n $pid ]] || break
        # shellcheck disable=SC2086
        kill -KILL $pid 2>/dev/null
        sleep 0.1
    done
    rm -rf "$W"
    now
    echo "cleanup $(secs $((NOW - t0)))"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- steps ------------------------------------------------------------------------------------
PHASE_TOTAL=0
# phase NAME FUNCTION ARGS...: runs the step in a subshell with errexit in force, prints its
# time, and on failure shows what the step printed and stops.
phase() {
    local name=$1 rc t0
    shift
    now
    t0=$NOW
    set +e
    (
        set -e
        "$@"
    ) >"$STEP_LOG" 2>&1
    rc=$?
    set -e
    if ((rc != 0)); then
        echo "baseline: $name failed (exit $rc):" >&2
        tail -n 20 "$STEP_LOG" >&2
        local n
        for n in "${NODES[@]}"; do
            if [[ " $name " == *" $n "* && -f $W/$n/postgres.log ]]; then
                echo "--- last lines of $W/$n/postgres.log" >&2
                tail -n 5 "$W/$n/postgres.log" >&2
            fi
        done
        exit 1
    fi
    now
    PHASE_TOTAL=$((PHASE_TOTAL + NOW - t0))
    printf '  %-40s %7s s\n' "$name" "$(secs $((NOW - t0)))"
}

# A file the servers' user owns.
put() {
    cat >"$1"
    [[ -z $OWNER ]] || chown "$OWNER" "$1"
}

owned_dir() {
    mkdir -p "$1"
    [[ -z $OWNER ]] || chown "$OWNER" "$1"
}

node_conf() {
    local n=$1 upstream=${2:-}
    echo "# Written by replica-lab for $n; rewritten after every clone or rewind."
    echo "listen_addresses = '$(node_host "$n")'"
    echo "port = $NODE_PORT"
    echo "unix_socket_directories = '$W/$n/run'"
    echo "cluster_name = '$n'"
    if [[ -n $upstream ]]; then
        echo "primary_conninfo = 'host=''$(node_host "$upstream")'' port=''$NODE_PORT'' user=''$REPL_USER'' password=''$REPL_PASSWORD'' application_name=''$n'''"
        echo "primary_slot_name = '$n'"
    fi
}

init_primary() {
    local d=$W/pg1/data
    owned_dir "$W/pg1"
    owned_dir "$W/pg1/run"
    "${AS[@]}" "$PGBIN/initdb" -D "$d" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --no-locale --no-sync --no-instructions
    cat >>"$d/postgresql.conf" <<EOF

# --- replica-lab: settings every node shares ---
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
# pg_rewind needs either checksums or hint-bit logging
wal_log_hints = on
hot_standby = on
# a slot of a replica that is gone must not fill the disk
max_slot_wal_keep_size = '1GB'
# pg_rewind reads the old primary's WAL back to the last common checkpoint; keep it
# even after crash recovery's checkpoint would recycle it
wal_keep_size = '128MB'
# replicas report every second, so reply_time shows a frozen receiver quickly
wal_receiver_status_interval = '1s'
shared_buffers = '32MB'
log_line_prefix = '%m [%p] %q%u@%d '
include_if_exists = 'replica-lab-node.conf'
EOF
    put "$d/pg_hba.conf" <<EOF
# Written by replica-lab.
# TYPE  DATABASE     USER  ADDRESS  METHOD
local   all          all            trust
host    postgres     "$CHECK_USER"  127.0.0.0/8  trust
host    replication  "$REPL_USER"  127.0.0.0/8  scram-sha-256
host    all          all  127.0.0.0/8  scram-sha-256
EOF
    node_conf pg1 | put "$d/replica-lab-node.conf"
    rm -f "$d/standby.signal"
}

start_node() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$W/$1/data" -l "$W/$1/postgres.log" -w -t 120 start
}

psql_pg1() {
    "${AS[@]}" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$W/pg1/run" -p "$NODE_PORT" \
        -U postgres -d postgres "$@"
}

roles_and_slots() {
    local n
    {
        echo "CREATE ROLE myuser WITH SUPERUSER LOGIN PASSWORD 'mypassword';"
        echo "CREATE ROLE $REPL_USER WITH REPLICATION LOGIN PASSWORD '$REPL_PASSWORD';"
        echo "CREATE ROLE $CHECK_USER WITH LOGIN;"
        echo "CREATE DATABASE mydatabase OWNER myuser;"
        for n in "${REPLICA_NODES[@]}"; do
            echo "SELECT pg_create_physical_replication_slot('$n');"
        done
    } | psql_pg1 -f -
}

clone() {
    local n=$1
    owned_dir "$W/$n"
    owned_dir "$W/$n/run"
    PGPASSWORD=$REPL_PASSWORD PGAPPNAME="$n-clone" "${AS[@]}" "$PGBIN/pg_basebackup" \
        -D "$W/$n/data" -h "$(node_host pg1)" -p "$NODE_PORT" -U "$REPL_USER" -w \
        -X stream -c fast --no-sync -S "$n"
}

configure_and_start_replica() {
    local n=$1
    node_conf "$n" pg1 | put "$W/$n/data/replica-lab-node.conf"
    put "$W/$n/data/standby.signal" </dev/null
    start_node "$n"
}

# The configuration replica-lab renders for this topology, with this run's file paths.
haproxy_cfg() {
    local backend bind balance want n template
    if [[ -n ${BASELINE_HAPROXY_CFG:-} ]]; then
        template=$(<"$BASELINE_HAPROXY_CFG")
        printf '%s\n' "${template//@DIR@/$W}"
        return
    fi
    local login=0000004d000300007573657200686170726f78795f636865636b00646174616261736500706f737467726573006170706c69636174696f6e5f6e616d6500686170726f78792d636865636b0000
    cat <<EOF
# Written by replica-lab; rewritten when the cluster changes.
global
    stats socket $W/haproxy/haproxy.sock mode 600 level admin expose-fd listeners
    server-state-file $W/haproxy/server-state
    # a reload keeps old sessions until they end, but not forever
    hard-stop-after 1h

defaults
    mode tcp
    timeout connect 3s
    # interactive SQL sessions sit idle for long stretches
    timeout client 30m
    timeout server 30m
    timeout check 2s
    option tcpka
    load-server-state-from-file global
    default-server inter 1s fastinter 250ms downinter 500ms rise 2 fall 2 on-marked-down shutdown-sessions

EOF
    for backend in write read; do
        if [[ $backend == write ]]; then
            echo "# whichever node is primary now"
            bind=$WRITE balance=first want=696e5f686f745f7374616e646279006f666600
        else
            echo "# hot standbys, per connection"
            bind=$READ balance=roundrobin want=696e5f686f745f7374616e646279006f6e00
        fi
        cat <<EOF
listen $backend
    bind $bind
    balance $balance
    option tcp-check
    tcp-check connect
    tcp-check send-binary $login
    tcp-check expect binary 5a0000000549
    # a wrong role fails at once instead of waiting for the check timeout
    tcp-check expect min-recv 0 binary $want
    tcp-check send-binary 5800000004
EOF
        for n in "${NODES[@]}"; do
            echo "    server $n $(node_host "$n"):$NODE_PORT check"
        done
        echo
    done
    cat <<EOF
listen stats
    mode http
    bind $STATS
    timeout client 30s
    stats enable
    stats uri /
    stats refresh 2s
    stats show-legends
EOF
}

start_haproxy() {
    owned_dir "$W/haproxy"
    haproxy_cfg | put "$W/haproxy/haproxy.cfg"
    "${AS[@]}" "$HAPROXY" -c -q -f "$W/haproxy/haproxy.cfg"
    rm -f "$W/haproxy/server-state"
    "${AS[@]}" "$HAPROXY" -D -f "$W/haproxy/haproxy.cfg" -p "$W/haproxy/haproxy.pid"
}

stats_csv() {
    if command -v curl >/dev/null 2>&1; then
        curl -sf --max-time 2 "http://$STATS/;csv"
    else
        python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "http://$STATS/;csv"
    fi
}

# Whether the cluster is ready now, as `up` decides it.
ready_now() {
    local list streaming csv
    list=$(printf "'%s'," "${REPLICA_NODES[@]}")
    streaming=$(psql_pg1 -At -c "SELECT count(*) FROM pg_stat_replication
        WHERE state = 'streaming' AND application_name IN (${list%,})" 2>/dev/null) || return 1
    [[ $streaming == "${#REPLICA_NODES[@]}" ]] || return 1
    csv=$(stats_csv 2>/dev/null) || return 1
    awk -F, -v primary=pg1 -v replicas="${REPLICA_NODES[*]}" '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        {
            be = $col["pxname"]; sv = $col["svname"]
            if (be != "write" && be != "read") next
            if (sv != primary && index(" " replicas " ", " " sv " ") == 0) next
            want_up = (be == "write") == (sv == primary)
            st = $col["status"]; chk = $col["check_status"]
            if (want_up) ok = (st == "UP" && chk != "" && chk !~ /INI/)
            else ok = (st ~ /^DOWN/ || st ~ /^MAINT/)
            if (ok) good++
        }
        END { exit !(good == 2 * (1 + split(replicas, r, " "))) }
    ' <<<"$csv"
}

wait_ready() {
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + READY_TIMEOUT_S * 1000000))
    until ready_now; do
        if ((${EPOCHREALTIME//[!0-9]/} > deadline)); then
            echo "not ready after $READY_TIMEOUT_S s; HAProxy says:"
            stats_csv | cut -d, -f1,2,18,37 || true
            return 1
        fi
        sleep 0.15
    done
}

# --- the run ----------------------------------------------------------------------------------
echo "sequential baseline: 1 primary + $REPLICAS replicas, PostgreSQL from $PGBIN, $HAPROXY"
owned_dir "$W/haproxy"
phase "initdb pg1" init_primary
phase "start pg1" start_node pg1
phase "roles and slots" roles_and_slots
for n in "${REPLICA_NODES[@]}"; do
    phase "clone $n" clone "$n"
    phase "start $n" configure_and_start_replica "$n"
done
phase "start haproxy" start_haproxy
phase "streaming and haproxy checks settled" wait_ready
now
echo "READY $(secs $((NOW - T_START)))"

if [[ ${BASELINE_HOLD:-} == 1 ]]; then
    # Out of the work folder, so this shell does not count as one of the cluster's processes.
    cd /
    echo holding
    cat >/dev/null || true
fi
