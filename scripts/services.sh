#!/usr/bin/env bash
# Make sure the services the tests need are up: PostgreSQL (trust auth for 127.0.0.1:5432) and NATS with
# JetStream (127.0.0.1:4222). On a fresh Debian machine it installs the packages (`postgresql`,
# `nats-server`, `libarchive-tools` for bsdtar, and `tcpdump`), creates/starts the cluster and starts nats-server with -js. Fails (never skips) when a
# service still cannot be reached, so CI reports the cause instead of silently skipping tests.
#
#   bash scripts/services.sh                      # both
#   OUTFLOW_NEED_NATS=0 bash scripts/services.sh  # PostgreSQL only
#
# Manual equivalents (docs/postgres-nats.md):
#   apt-get install -y postgresql nats-server
#   pg_ctlcluster --skip-systemctl-redirect 15 main start
#   nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
set -uo pipefail
cd "$(dirname "$0")/.."

want_pg=${OUTFLOW_NEED_POSTGRES:-1}
want_nats=${OUTFLOW_NEED_NATS:-1}
pg_host=127.0.0.1
pg_port=5432
nats_port=4222

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then as_root apt-get update -qq >/dev/null 2>&1 || true; apt_ready=1; fi
  echo "services: installing $*" >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

wait_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

pg_ok() { psql -w -h "$pg_host" -p "$pg_port" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

pg_cluster_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

# Tests connect as `postgres` without a password; only the loopback address is trusted.
pg_trust_loopback() {
  local ver=$1 hba="/etc/postgresql/$1/main/pg_hba.conf"
  [ -f "$hba" ] || return 0
  if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    echo "services: trusting 127.0.0.1 in $hba (test machine)" >&2
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
  fi
}

start_pg() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  local ver
  ver=$(pg_cluster_version)
  if [ -z "$ver" ] || [ ! -d "/etc/postgresql/$ver/main" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  local conf="/etc/postgresql/$ver/main/conf.d/90-outflow-tests.conf"
  if [ ! -f "$conf" ] && [ -d "$(dirname "$conf")" ]; then
    printf "listen_addresses = '127.0.0.1'\nport = %s\n" "$pg_port" | as_root tee "$conf" >/dev/null
  fi
  pg_trust_loopback "$ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
}

if [ "$want_pg" = 1 ]; then
  if ! wait_port "$pg_host" "$pg_port" 1; then
    start_pg
    wait_port "$pg_host" "$pg_port" 30 || { echo "services: PostgreSQL is not reachable on $pg_host:$pg_port" >&2; exit 1; }
  fi
  if ! pg_ok; then
    ver=$(pg_cluster_version)
    [ -n "$ver" ] && pg_trust_loopback "$ver"
    for _ in $(seq 1 30); do pg_ok && break; sleep 0.2; done
    pg_ok || { echo "services: PostgreSQL on $pg_host:$pg_port refuses user postgres without a password (need trust auth for 127.0.0.1)" >&2; exit 1; }
  fi
fi

nats_bin() { command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || { [ -x /usr/bin/nats-server ] && echo /usr/bin/nats-server; }; }

# A server without -js answers on the port but every JetStream call fails: check the API itself.
jetstream_ok() {
  node --input-type=module -e "
    import { connect } from 'nats';
    const nc = await connect({ servers: '127.0.0.1:$nats_port', timeout: 2000 });
    try { await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo(); } finally { await nc.close(); }
  " >/dev/null 2>&1
}

if [ "$want_nats" = 1 ]; then
  if ! wait_port 127.0.0.1 "$nats_port" 1; then
    bin=$(nats_bin) || true
    if [ -z "${bin:-}" ]; then apt_install nats-server; bin=$(nats_bin); fi
    # The Debian package may start its own service (without JetStream) once installed.
    if ! wait_port 127.0.0.1 "$nats_port" 1; then
      store=/var/lib/nats-server
      [ -w /var/lib ] || store=${XDG_STATE_HOME:-$HOME/.local/state}/nats-server
      mkdir -p "$store"
      log=/var/log/nats-server.log
      [ -w /var/log ] || log="$store/nats-server.log"
      if command -v start-stop-daemon >/dev/null; then
        start-stop-daemon --start --oknodo --background --exec "$bin" -- -a 127.0.0.1 -p "$nats_port" -js -sd "$store" -l "$log"
      else
        setsid "$bin" -a 127.0.0.1 -p "$nats_port" -js -sd "$store" -l "$log" </dev/null >/dev/null 2>&1 &
      fi
    fi
    wait_port 127.0.0.1 "$nats_port" 20 || { echo "services: NATS is not reachable on 127.0.0.1:$nats_port" >&2; exit 1; }
  fi
  # The check uses the project's own nats client: without it every try fails and the message below would lie.
  node --input-type=module -e "await import('nats')" >/dev/null 2>&1 \
    || { echo "services: the nats package is not installed here: run 'bash scripts/setup.sh' (npm ci) first" >&2; exit 1; }
  ok=0
  for _ in 1 2 3 4 5; do jetstream_ok && { ok=1; break; }; sleep 0.3; done
  [ "$ok" = 1 ] || { echo "services: NATS on 127.0.0.1:$nats_port answers but JetStream is not enabled (run nats-server with -js)" >&2; exit 1; }
fi

# Not a service, but a tool the tests need: the package test builds with BSD tar too (macOS's tar), which
# Debian ships as bsdtar in libarchive-tools. Without it that test would skip, and CI would not see it fail.
if [ "${OUTFLOW_NEED_BSDTAR:-1}" = 1 ] && [ ! -x /usr/bin/bsdtar ]; then
  apt_install libarchive-tools || { echo "services: cannot install libarchive-tools (bsdtar) for the package test" >&2; exit 1; }
fi

# tcpdump: the dns_names collector runs the real one on Linux, and its tests capture real DNS queries and
# answers with it, on loopback and over veth pairs into network namespaces they make with iproute2's `ip`.
if [ "${OUTFLOW_NEED_TCPDUMP:-1}" = 1 ] && [ ! -x /usr/bin/tcpdump ]; then
  apt_install tcpdump || { echo "services: cannot install tcpdump for the dns_names tests" >&2; exit 1; }
fi
if [ "${OUTFLOW_NEED_TCPDUMP:-1}" = 1 ] && ! command -v ip >/dev/null; then
  apt_install iproute2 || { echo "services: cannot install iproute2 (ip netns) for the dns_names veth test" >&2; exit 1; }
fi
exit 0
