#!/usr/bin/env bash
# Installs what `make bench` needs beyond the build: wrk, the HTTP load generator that
# `vitrine bench rec` drives. Idempotent and quiet when present.
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench-deps: installing wrk"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk
fi
