#!/usr/bin/env bash
# mode: switch the host between desktop and compute mode.
#
#   mode request compute   start compute.target (vllm.service, plano.service, ...)
#   mode request desktop   stop compute.target (units PartOf it stop too)
#   mode status            print the current mode and the last recorded transition
#
# Each transition is appended as one JSON line to $MODE_EVENTS_DIR/events.jsonl
# (default /var/lib/mode-controller). Requests need root. modes.nix wraps this script with
# coreutils and systemd on PATH; tests/nix runs it with a stand-in systemctl.
set -euo pipefail

events_dir="${MODE_EVENTS_DIR:-/var/lib/mode-controller}"
events_file="$events_dir/events.jsonl"
target="compute.target"

usage() {
  echo "usage: mode request compute|desktop" >&2
  echo "       mode status" >&2
  exit 2
}

current_mode() {
  if systemctl is-active --quiet "$target"; then
    echo compute
  else
    echo desktop
  fi
}

# Only characters that need no JSON escaping reach the event line.
sanitize() {
  printf '%s' "$1" | tr -cd 'A-Za-z0-9._@-'
}

record() {
  local from="$1" to="$2" result="$3"
  local by
  by="$(sanitize "${SUDO_USER:-$(id -un)}")"
  mkdir -p "$events_dir"
  printf '{"timestamp":"%s","event":"request","from":"%s","to":"%s","result":"%s","by":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$from" "$to" "$result" "$by" >>"$events_file"
}

request() {
  local wanted="$1" from result=ok status=0
  if [ "$(id -u)" != 0 ]; then
    echo "mode: 'mode request $wanted' needs root; run: sudo mode request $wanted" >&2
    exit 1
  fi
  from="$(current_mode)"
  case "$wanted" in
    compute) systemctl start "$target" || status=$? ;;
    desktop) systemctl stop "$target" || status=$? ;;
  esac
  if [ "$status" != 0 ]; then
    result=failed
  fi
  record "$from" "$wanted" "$result"
  if [ "$status" != 0 ]; then
    echo "mode: switching to $wanted failed (systemctl exit $status); see: systemctl status $target" >&2
    exit "$status"
  fi
  echo "mode: $from -> $wanted"
}

status() {
  echo "mode: $(current_mode)"
  if [ -s "$events_file" ]; then
    echo "last: $(tail -n 1 "$events_file")"
  fi
}

case "${1:-}" in
  request)
    [ $# -eq 2 ] || usage
    case "$2" in
      compute | desktop) request "$2" ;;
      *) usage ;;
    esac
    ;;
  status)
    [ $# -eq 1 ] || usage
    status
    ;;
  *) usage ;;
esac
