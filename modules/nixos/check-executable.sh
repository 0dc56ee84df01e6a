#!/usr/bin/env bash
# plano.service's ExecStartPre: refuse (exit 1, one line on stderr) an executable that is missing, not
# executable, or that anyone but root could modify. It runs as the service's dynamic user, so the gateway
# can never be handed a binary (or a venv) it could rewrite, and a tree chowned by an old
# StateDirectory=plano fails closed instead of starting.
#
# Checked: the file and every directory above it, both as given and after resolving symlinks: owned by
# root and not group/other-writable (root-owned sticky directories such as /nix/store and /tmp are fine:
# others cannot replace root's entries there). When the executable lives in a Python venv (<venv>/bin/x
# next to <venv>/pyvenv.cfg), the whole venv: code it imports is as sensitive as the executable.
set -euo pipefail

fail() {
  echo "plano: refusing to start $exe: $1" >&2
  exit 1
}

# owner and octal mode of a path (no symlink following)
safe() {
  local path=$1 stat owner mode
  stat=$(stat -c '%u %a' -- "$path") || fail "cannot stat $path"
  owner=${stat% *} mode=${stat#* }
  [ "$owner" = 0 ] || fail "$path is owned by uid $owner, not root"
  [ -L "$path" ] && return 0
  if [ -d "$path" ] && [ $((8#$mode & 8#1000)) -ne 0 ]; then
    return 0
  fi
  [ $((8#$mode & 8#022)) -eq 0 ] || fail "$path is writable by group or others (mode $mode)"
}

chain() {
  local path=$1
  while :; do
    safe "$path"
    [ "$path" = / ] && return 0
    path=$(dirname -- "$path")
  done
}

[ $# -eq 1 ] || { echo "usage: check-executable.sh ABSOLUTE_PATH" >&2; exit 2; }
exe=$1
case $exe in /*) ;; *) fail "not an absolute path" ;; esac
[ -f "$exe" ] && [ -x "$exe" ] || fail "missing or not executable"
chain "$exe"
real=$(realpath -e -- "$exe") || fail "cannot resolve it"
chain "$real"
venv=$(dirname -- "$(dirname -- "$exe")")
if [ -f "$venv/pyvenv.cfg" ]; then
  bad=$(find "$venv" -xdev \( ! -user 0 -o \( ! -type l -perm /022 ! -perm -1000 \) \) -print -quit) ||
    fail "cannot read the venv $venv"
  [ -z "$bad" ] || fail "$bad in its venv is not root's alone"
fi
