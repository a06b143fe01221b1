# Make sure the browser tests (tests/web) have what they drive: Debian's chromium (Playwright uses
# /usr/bin/chromium, never a browser download of its own), its driver, fonts for the pages' text
# and poppler-utils for PDFs the UI produces. Installed with apt only when something is missing. Sourced.
BROWSER_PACKAGES=(chromium chromium-driver fonts-noto-core poppler-utils)

ensure_browser() {
  local missing=() pkg
  for pkg in "${BROWSER_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser tests need Debian packages that are missing: ${missing[*]}; apt-get is not available here," >&2
    echo "so install them by hand (or run where apt-get works). Without /usr/bin/chromium, tests/web is skipped" >&2
    echo "outside CI and fails under CI." >&2
    return 0
  fi
  echo "==> installing ${missing[*]} (apt-get, for the browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run on the machine holds the lock for a while: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
