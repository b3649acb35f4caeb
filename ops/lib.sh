# Shared shell functions for ops/up and ops/test: installing what is missing, and
# starting and stopping local PostgreSQL and Redis instances on loopback.
# Source it; it defines functions only.

fl_log() { printf '\033[1m[fairlane]\033[0m %s\n' "$*" >&2; }
fl_die() { fl_log "error: $*"; exit 1; }

fl_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    fl_die "need root (or sudo) to run: $*"; fi
}

fl_apt_updated=""
fl_apt_install() {
  if [ -z "$fl_apt_updated" ]; then
    fl_log "apt-get update"
    fl_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    fl_apt_updated=1
  fi
  fl_log "apt-get install $*"
  fl_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The dashboard's browser suite: Debian's Chromium (playwright never downloads a
# browser here) and tests/browser's node_modules. Without Chromium the suite skips.
fl_ensure_browser_suite() {
  if [ ! -x /usr/bin/chromium ]; then
    (fl_apt_install chromium) || fl_log "warning: chromium could not be installed; the browser suite will skip"
  fi
  command -v npm >/dev/null || fl_apt_install nodejs npm
  if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/jsqr ] \
    || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    fl_log "npm ci (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# redis-server and redis-cli on PATH.
fl_ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || fl_apt_install redis-server
  # Debian's package starts a system instance on 6379; we run our own and leave it alone.
}

# Sets FL_PG_BIN to the directory holding initdb, pg_ctl and psql (newest major).
fl_ensure_postgres() {
  FL_PG_BIN=""
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && FL_PG_BIN="$d"
  done
  if [ -z "$FL_PG_BIN" ] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    FL_PG_BIN="$(dirname "$(readlink -f "$(command -v initdb)")")"
  fi
  if [ -z "$FL_PG_BIN" ]; then
    fl_apt_install postgresql
    fl_ensure_postgres_found_after_install
  fi
  [ -x "$FL_PG_BIN/psql" ] || FL_PG_BIN_PSQL="$(command -v psql || true)"
  export FL_PG_BIN
}
fl_ensure_postgres_found_after_install() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do FL_PG_BIN="$d"; done
  [ -n "$FL_PG_BIN" ] || fl_die "PostgreSQL installed but initdb not found"
}
fl_psql() { if [ -x "$FL_PG_BIN/psql" ]; then "$FL_PG_BIN/psql" "$@"; else psql "$@"; fi; }

# PostgreSQL refuses to run as root: as root we run it as the `postgres` system user.
fl_pg_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || fl_sudo useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
    echo postgres
  else
    id -un
  fi
}
fl_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# fl_free_port: prints a free TCP port on 127.0.0.1.
fl_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# fl_pg_init DIR: creates a cluster in DIR/data with a trusted superuser `fairlane`.
fl_pg_init() {
  local dir="$1" user
  user="$(fl_pg_user)"
  mkdir -p "$dir/sock"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown -R "$user" "$dir"
  fl_as_pg "$FL_PG_BIN/initdb" -D "$dir/data" -U fairlane --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; fl_die "initdb failed"; }
}

# fl_pg_start DIR PORT [extra postgres -c options...]
fl_pg_start() {
  local dir="$1" port="$2"; shift 2
  local opts="-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=400 $*"
  fl_as_pg "$FL_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/postgres.log" >&2; fl_die "postgres did not start"; }
}

fl_pg_stop() {
  local dir="$1"
  [ -f "$dir/data/postmaster.pid" ] || return 0
  fl_as_pg "$FL_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || fl_as_pg "$FL_PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

# fl_redis_start DIR PORT [extra redis-server args...]
fl_redis_start() {
  local dir="$1" port="$2"; shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" \
    || fl_die "redis-server did not start"
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -n 20 "$dir/redis.log" >&2
  fl_die "redis-server did not answer on port $port"
}

fl_redis_stop() {
  local dir="$1" port="$2"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
}

# The cargo target directory (respects CARGO_TARGET_DIR).
fl_target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then echo "$CARGO_TARGET_DIR"; else echo "$PWD/target"; fi
}
