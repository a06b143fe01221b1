# Shared by scripts/run and scripts/test: create .venv and install evidex into it.
# Sourced, not executed. Uses only python3 (3.11+) and pip from PyPI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "evidex needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi
install_evidex() {  # $1: extras, e.g. "" or "[test]"
  local stamp="$VENV/.installed$1"
  local want
  want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "==> installing evidex$1 (pinned by requirements.lock)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".$1" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import evidex" || { echo "installation failed" >&2; exit 1; }
  echo "$want" > "$stamp"
}
