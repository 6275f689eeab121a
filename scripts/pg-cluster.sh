#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the store tests (sourced by .ci/run; usable by hand:
# `source scripts/pg-cluster.sh && pg_cluster_start`, then `pg_cluster_stop`).
#
# pg_cluster_start: installs Debian's PostgreSQL if it is missing, makes a cluster in a
# temporary directory (as the `postgres` user when run as root: the server refuses root),
# starts it on a free loopback port with its socket in that directory, creates the
# database `userpool_test` and exports USERPOOL_TEST_POSTGRES (and USERPOOL_TEST_POSTGRES_CA,
# the CA of the server's TLS certificate). pg_cluster_stop stops it and
# removes the directory. Durability is off (fsync=off): nothing in it outlives the run.
# PG_CLUSTER_FSYNC=on starts it durable instead (fsync=on, synchronous_commit=on, as a
# production server runs): the benchmark's figures must be durable ones.

pg_cluster_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_cluster_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_cluster_start() {
  PG_CLUSTER_BIN="$(pg_cluster_bin)"
  if [ -z "$PG_CLUSTER_BIN" ] || [ ! -x "$PG_CLUSTER_BIN/initdb" ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    PG_CLUSTER_BIN="$(pg_cluster_bin)"
  fi
  PG_CLUSTER_DIR="$(mktemp -d /tmp/userpool-pg.XXXXXX)"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_CLUSTER_DIR"
  fi
  # TLS beside plain connections: a throw-away CA and a server certificate for 127.0.0.1
  # and localhost (the TLS test connects with sslmode=require and this CA).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=userpool test CA" \
    -keyout "$PG_CLUSTER_DIR/ca.key" -out "$PG_CLUSTER_DIR/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$PG_CLUSTER_DIR/server.key" -out "$PG_CLUSTER_DIR/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$PG_CLUSTER_DIR/san.ext"
  openssl x509 -req -in "$PG_CLUSTER_DIR/server.csr" -CA "$PG_CLUSTER_DIR/ca.pem" -CAkey "$PG_CLUSTER_DIR/ca.key" \
    -CAcreateserial -days 2 -extfile "$PG_CLUSTER_DIR/san.ext" -out "$PG_CLUSTER_DIR/server.pem" >/dev/null 2>&1
  chmod 600 "$PG_CLUSTER_DIR/server.key"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_CLUSTER_DIR/server.key" "$PG_CLUSTER_DIR/server.pem"
  fi
  local durability="-c fsync=off"
  if [ "${PG_CLUSTER_FSYNC:-off}" = on ]; then
    durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  fi
  PG_CLUSTER_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_cluster_as "$PG_CLUSTER_BIN/initdb" -D "$PG_CLUSTER_DIR/data" -U userpool --auth=trust -E UTF8 --locale=C >/dev/null
  pg_cluster_as "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/server.log" -w \
    -o "-p $PG_CLUSTER_PORT -k $PG_CLUSTER_DIR -c listen_addresses=127.0.0.1 $durability -c max_connections=300 -c ssl=on -c ssl_cert_file=$PG_CLUSTER_DIR/server.pem -c ssl_key_file=$PG_CLUSTER_DIR/server.key" start >/dev/null
  pg_cluster_as "$PG_CLUSTER_BIN/createdb" -h "$PG_CLUSTER_DIR" -p "$PG_CLUSTER_PORT" -U userpool userpool_test
  export USERPOOL_TEST_POSTGRES="postgres://userpool@127.0.0.1:$PG_CLUSTER_PORT/userpool_test"
  export USERPOOL_TEST_POSTGRES_CA="$PG_CLUSTER_DIR/ca.pem"
  echo "PostgreSQL $("$PG_CLUSTER_BIN/postgres" --version | awk '{print $3}') on port $PG_CLUSTER_PORT ($PG_CLUSTER_DIR)"
}

pg_cluster_stop() {
  if [ -n "${PG_CLUSTER_DIR:-}" ] && [ -d "$PG_CLUSTER_DIR" ]; then
    pg_cluster_as "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_CLUSTER_DIR"
  fi
}
