#!/usr/bin/env bash
# Make sure the services the tests need are up: PostgreSQL (trust auth on 127.0.0.1:5432) and
# NATS with JetStream (127.0.0.1:4222). Installs the Debian packages and starts them when missing,
# so a fresh machine works. Fails (never skips) when a service cannot be reached.
set -uo pipefail

want_pg=${OUTFLOW_NEED_POSTGRES:-1}
want_nats=${OUTFLOW_NEED_NATS:-1}

apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

if [ "$want_pg" = 1 ] && ! wait_port 127.0.0.1 5432 1; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then pg_createcluster 15 main >/dev/null 2>&1 || true; fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
  wait_port 127.0.0.1 5432 20 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
fi

if [ "$want_nats" = 1 ] && ! wait_port 127.0.0.1 4222 1; then
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 127.0.0.1 4222 20 || { echo "NATS is not reachable on 127.0.0.1:4222" >&2; exit 1; }
fi
exit 0
