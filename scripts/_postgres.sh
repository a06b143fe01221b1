# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests (user postgres, trust
# auth): start the installed cluster if it is stopped, install it if it is absent. Sourced.
ensure_postgres() {
  if [ "${EVIDEX_TEST_SKIP_POSTGRES:-}" = "1" ]; then
    echo "==> PostgreSQL tests skipped (EVIDEX_TEST_SKIP_POSTGRES=1)"; return 0
  fi
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  if [ ! -d /etc/postgresql ] || [ -z "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
    echo "==> installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    local ver; ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
    # A test machine: trust local TCP connections, as on the machines this project runs on.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  local ver; ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "==> starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    sleep 1
  done
  echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
  return 1
}
