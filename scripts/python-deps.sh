#!/usr/bin/env bash
# Installs the Python packages the tests use into target/python (never system-wide), pinned:
# the official `openai` client, which tests/openai_client.py drives against `vitrine serve` as a
# real client would. `pip install --target` does not touch the interpreter's own site-packages,
# so it works on Debian's externally-managed Python as well as on a venv or pyenv one.
# Idempotent: quiet and offline when the pinned version is already there for this Python.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAI_VERSION=3.57.0
PYTHON="${PYTHON:-python3}"
DEST=target/python

# Compiled dependencies (pydantic-core, jiter) are built for one interpreter version.
want="openai==$OPENAI_VERSION $("$PYTHON" -c 'import sys; print(sys.implementation.cache_tag)')"
if [ -f "$DEST/.installed" ] && [ "$(cat "$DEST/.installed")" = "$want" ]; then
  exit 0
fi
rm -rf "$DEST"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --no-warn-conflicts \
  --root-user-action=ignore \
  --target "$DEST" "openai==$OPENAI_VERSION"
echo "$want" >"$DEST/.installed"
echo "python-deps: installed $want into $DEST"
