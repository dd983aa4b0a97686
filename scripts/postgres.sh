#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and CI, never for real data (fsync
# is off and every 127.0.0.1 login is trusted).
#
#   scripts/postgres.sh start DIR   Creates a cluster in DIR/data (first time
#                                   only), starts it on a free 127.0.0.1 port
#                                   with its socket in DIR/socket, waits until
#                                   it accepts connections and prints its URL,
#                                   postgresql://postgres@127.0.0.1:PORT/postgres
#                                   (only that goes to stdout). Already
#                                   running: prints the URL again.
#   scripts/postgres.sh stop DIR    Stops it. DIR stays (postgres.log is in
#                                   it); remove it yourself.
#
# Typical use:
#   export KABAR_TEST_POSTGRES_URL=$(scripts/postgres.sh start "$dir")
#   ...; scripts/postgres.sh stop "$dir"
#
# Needs the Debian package postgresql (server binaries in
# /usr/lib/postgresql/VERSION/bin; KABAR_PG_BIN overrides). PostgreSQL refuses
# to run as root, so as root the server runs as the "postgres" system user
# (created by the package, or here if missing) and DIR is handed to it; DIR's
# parents must let that user through (anything under /tmp does).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command="$1"
if [ "$command" = stop ] && [ ! -d "$2" ]; then
  echo "postgres.sh: no server running in $2" >&2
  exit 0
fi
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
data="$dir/data"
socket_dir="$dir/socket"

if [ -n "${KABAR_PG_BIN:-}" ]; then
  pg_bin="$KABAR_PG_BIN"
else
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "postgres.sh: no PostgreSQL server binaries found; install the Debian" \
    "package postgresql (or set KABAR_PG_BIN)" >&2
  exit 1
fi

# Runs a command as the user owning the server.
run_as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  if [ -e "$data" ]; then owner="$(stat -c %U "$data")"; fi
  if ! id "$owner" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$owner"
  fi
  run_as_owner=(runuser -u "$owner" --)
fi
as_owner() {
  # From DIR, so tools started as another user have a readable working dir.
  (cd "$dir" && "${run_as_owner[@]}" "$@")
}

# The port of the server running in DIR, or nothing.
running_port() {
  if [ -f "$data/postmaster.pid" ] &&
    as_owner "$pg_bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
    sed -n 4p "$data/postmaster.pid"
  fi
}

url() {
  echo "postgresql://postgres@127.0.0.1:$1/postgres"
}

start() {
  local port
  port="$(running_port)"
  if [ -n "$port" ]; then
    url "$port"
    return 0
  fi
  # Unix socket paths are limited to 107 bytes.
  if [ ${#socket_dir} -gt 80 ]; then
    echo "postgres.sh: $dir is too long a path for a socket directory;" \
      "use a shorter DIR" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    chown "$owner" "$dir"
    if ! as_owner test -w "$dir"; then
      echo "postgres.sh: user $owner cannot write $dir (a parent directory" \
        "keeps it out); give a directory whose parents others may enter, e.g. \$(mktemp -d) itself" >&2
      exit 1
    fi
  fi

  if [ ! -f "$data/PG_VERSION" ]; then
    local locale=C
    if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then locale=C.UTF-8; fi
    if ! as_owner "$pg_bin/initdb" -D "$data" -U postgres -E UTF8 \
      --locale="$locale" --auth-local=peer --auth-host=trust --no-sync \
      >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      exit 1
    fi
    # Only the server's owner may use the socket; TCP only from loopback.
    cat >"$data/pg_hba.conf" <<'EOF'
local all all peer
host all all 127.0.0.1/32 trust
EOF
    cat >>"$data/postgresql.conf" <<EOF

# scripts/postgres.sh: a throwaway test server.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 200
EOF
    as_owner mkdir -p "$socket_dir"
  fi

  # A random free port; another process may take it first, so retry.
  local attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if as_owner "$pg_bin/pg_ctl" start -D "$data" -l "$dir/postgres.log" \
      -w -t 60 -o "-p $port" >&2; then
      if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        url "$port"
        return 0
      fi
      echo "postgres.sh: started, but 127.0.0.1:$port does not answer" >&2
      tail -n 20 "$dir/postgres.log" >&2
      exit 1
    fi
    if ! tail -n 20 "$dir/postgres.log" | grep -q "could not bind\|could not create any TCP"; then
      break
    fi
  done
  echo "postgres.sh: the server did not start; the end of $dir/postgres.log:" >&2
  tail -n 20 "$dir/postgres.log" >&2
  exit 1
}

stop() {
  if [ -z "$(running_port)" ]; then
    echo "postgres.sh: no server running in $dir" >&2
    return 0
  fi
  as_owner "$pg_bin/pg_ctl" stop -D "$data" -m fast -w -t 60 >&2
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
