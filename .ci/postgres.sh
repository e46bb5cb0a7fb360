# shellcheck shell=bash
# PostgreSQL for the test suite, sourced by .ci/run.
#
#   ensure_postgres PORT [DIR]   nothing if a server answers on 127.0.0.1:PORT; otherwise
#                                install `postgresql` (Debian) if needed and start a
#                                throwaway cluster there (trust auth, user postgres) in DIR
#   stop_postgres PORT [DIR]     stop that throwaway cluster and remove DIR
#
# postgres refuses to run as root, so as root the cluster runs as the `postgres` user
# (created when the package did not create it).

pg_port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_postgres() {
  local port="$1" dir="${2:-/tmp/aion-ci-postgres-$1}" bin
  if pg_port_answers "$port"; then
    echo "PostgreSQL answers on 127.0.0.1:$port"
    return 0
  fi
  if [ -z "$(_pg_bin)" ]; then
    echo "installing postgresql (Debian package)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
  bin="$(_pg_bin)"
  if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$dir" --shell /bin/false postgres
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  _pg_as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log"
  _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
  echo "started a throwaway PostgreSQL cluster on 127.0.0.1:$port ($dir)"
}

stop_postgres() {
  local port="$1" dir="${2:-/tmp/aion-ci-postgres-$1}"
  _pg_as "$(_pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  rm -rf "$dir"
}
