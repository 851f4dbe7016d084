#!/usr/bin/env bash
# Installs what the tests need and runs the whole suite: unit, integration (SQLite and PostgreSQL),
# AppTest page tests and the browser tests (Playwright + Debian's Chromium; Tesseract for OCR). Exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt

# Debian's Chromium for the browser tests (Playwright's own browser download does not work here), with a colour
# emoji font so that the help screenshots show the pages' icons and emoji as a user's browser does.
if ! command -v chromium >/dev/null 2>&1 || [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  echo "Installing Chromium and an emoji font from Debian …"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi

# nginx for the deployment test (tests/deploy: the shipped nginx config in front of two app replicas).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "Installing nginx from Debian …"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && { $SUDO apt-get install -y -qq nginx-light >/dev/null \
    || $SUDO apt-get install -y -qq nginx >/dev/null; }
fi

# Tesseract with the German model for the OCR tests (without it they check that OCR is reported unavailable).
if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -x deu >/dev/null; then
  echo "Installing Tesseract (German) from Debian …"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-deu >/dev/null; } \
    || echo "Tesseract could not be installed: the OCR tests then check that OCR is reported unavailable." >&2
fi

# Dovecot for the inbound-mail tests (tests/imapserver.py starts its own instance on loopback).
if [ ! -x /usr/sbin/dovecot ]; then
  echo "Installing Dovecot (IMAP) from Debian …"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dovecot-imapd >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432: start it if it is down; the suite fails (not skips) without it.
PG_HOST=127.0.0.1
if ! pg_isready -h "$PG_HOST" -p 5432 -q 2>/dev/null; then
  echo "Starting PostgreSQL …"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h "$PG_HOST" -p 5432 -q 2>/dev/null && break; sleep 1; done
fi
pg_isready -h "$PG_HOST" -p 5432 -q || { echo "PostgreSQL is not reachable on $PG_HOST:5432" >&2; exit 1; }

export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
exec python -m pytest -p no:cacheprovider "$@"
