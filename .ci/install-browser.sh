#!/usr/bin/env bash
# Install what the browser test (tests/test_browser.py) needs: Debian's Chromium and its
# ChromeDriver, and Selenium in the project's virtualenv (when it exists; `make setup`
# installs Selenium from the test extras anyway). Idempotent, and quick when all is there.
# Nothing is downloaded outside the package registries: Selenium drives /usr/bin/chromium
# through /usr/bin/chromedriver, so neither Selenium Manager nor Playwright fetch a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

VENV="${VENV:-.venv}"
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "selenium>=4.20"
fi

/usr/bin/chromium --version 2>/dev/null  # its wrapper script warns on stderr
/usr/bin/chromedriver --version
