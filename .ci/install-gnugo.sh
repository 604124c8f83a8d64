#!/usr/bin/env bash
# Install GNU Go (Debian's gnugo, GPL: a separate program the project talks to over GTP,
# never linked or shipped), the teacher of Go's stage 1 and a yardstick for both stages.
# Idempotent; where it can't install (no apt-get, no root or sudo) it says in one line how
# to, and exits 0: everything but Go runs without it, and its tests skip.
set -uo pipefail

if command -v gnugo >/dev/null 2>&1 || [ -x /usr/games/gnugo ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        SUDO="none"
    fi
fi
if [ "$SUDO" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "GNU Go is missing (Go needs it): install it, e.g. 'sudo apt-get install gnugo'" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get install -y -qq gnugo >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gnugo >/dev/null; }; }; then
    echo "GNU Go could not be installed (Go needs it): try 'sudo apt-get install gnugo'" >&2
fi
exit 0
