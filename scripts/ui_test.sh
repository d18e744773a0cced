#!/usr/bin/env bash
# The web page tested in a real browser (tests/browser/ui_test.py): builds a small real-model
# index (ESCO occupations en/de, English skills and relations, ECSF, EO4GEO; ~2-4 minutes the
# first time, kept in target/ui-index), serves it, and drives the system Chromium with
# Playwright from PyPI. Screenshots land in target/ui-screenshots.
#   usage: scripts/ui_test.sh [BINARY]     default: target/debug/occusearch
# Needs: chromium (Debian package), python3 with venv, the model in models/ (scripts/models/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-target/debug/occusearch}
DATA=${OCCUSEARCH_SHARED_DATA:-../shared/data}
INDEX=target/ui-index
PORT=${UI_TEST_PORT:-18080}
command -v chromium >/dev/null || { echo "ui_test: chromium is missing (apt-get install chromium)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "ui_test: $BIN does not exist (cargo build)" >&2; exit 1; }
if [ ! -e "$INDEX/current" ]; then
  "$BIN" index --index "$INDEX" \
    --data "$DATA/esco/v1.1.1/en/occupations_en.csv" \
    --data "$DATA/esco/v1.1.1/en/skills_en.csv" \
    --data "$DATA/esco/v1.1.1/relations/occupationSkillRelations.csv" \
    --data "$DATA/esco/v1.2.0/de/occupations_de.csv" \
    --data "$DATA/sectoral/ecsf" \
    --data "$DATA/sectoral/eo4geo"
fi
if [ ! -x target/ui-venv/bin/python ]; then
  python3 -m venv target/ui-venv
  target/ui-venv/bin/pip install -q 'playwright>=1.45,<2'
fi
"$BIN" serve --index "$INDEX" --addr "127.0.0.1:$PORT" --reload-every 0 > target/ui-serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat target/ui-serve.log >&2; echo "ui_test: the server stopped" >&2; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat target/ui-serve.log >&2; echo "ui_test: the server did not answer" >&2; exit 1; }
target/ui-venv/bin/python tests/browser/ui_test.py "http://127.0.0.1:$PORT" target/ui-screenshots
