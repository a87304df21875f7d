#!/usr/bin/env bash
# Symbol hygiene and hardening of the installed binaries, read from the files
# themselves (binutils):
#   check.sh exports-lib  libp9auth.so HEADER   exactly p9auth.h's P9AUTH_API
#                                               functions, all at version P9AUTH_0
#   check.sh exports-pam  pam_p9auth.so SOURCE  exactly the pam_sm_* functions
#                                               the source defines
#   check.sh bind-now     PROGRAM               BIND_NOW and RELRO
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v nm >/dev/null && command -v readelf >/dev/null || { echo "SKIP: binutils not installed" >&2; exit 77; }

# The defined dynamic symbols, one "name@version" (or "name") a line, sorted;
# the version node's own absolute symbol left out.
exported() {
  nm -D --defined-only --with-symbol-versions "$1" | awk '$2 != "A" {print $3}' | sed 's/@@*/@/' | sort
}

case ${1:-} in
exports-lib)
  lib=${2:?library} header=${3:?header}
  want=$(grep -oE '^P9AUTH_API [a-z ]+\**[[:space:]]*\**(p9auth_[a-z_]+)\(' "$header" |
         grep -oE 'p9auth_[a-z_]+' | sed 's/$/@P9AUTH_0/' | sort)
  [[ -n $want ]] || fail "no P9AUTH_API declarations found in $header"
  got=$(exported "$lib")
  [[ $got == "$want" ]] || fail "$lib exports (<) differ from $header's API at P9AUTH_0 (>):
$(diff <(echo "$got") <(echo "$want") || true)"
  readelf -d "$lib" | grep -q 'SONAME.*\[libp9auth\.so\.0\]' || fail "$lib: SONAME is not libp9auth.so.0"
  echo "PASS: $lib exports exactly $(wc -l <<<"$want") functions of p9auth.h, all P9AUTH_0"
  ;;
exports-pam)
  mod=${2:?module} src=${3:?source}
  want=$(grep -oE '^[A-Z_0-9]+ int (pam_sm_[a-z_]+)\(' "$src" | grep -oE 'pam_sm_[a-z_]+' | sort -u)
  [[ -n $want ]] || fail "no pam_sm_* definitions found in $src"
  got=$(exported "$mod" | sed 's/@.*//')
  [[ $got == "$want" ]] || fail "$mod exports (<) differ from the pam_sm_* of $src (>):
$(diff <(echo "$got") <(echo "$want") || true)"
  echo "PASS: $mod exports only $(tr -s '\n' ' ' <<<"$want")"
  ;;
bind-now)
  prog=${2:?program}
  dyn=$(readelf -d "$prog")
  grep -qE '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW' <<<"$dyn" || fail "$prog is not linked with -z now (no BIND_NOW/FLAGS NOW)"
  grep -qE '\(FLAGS_1\).*\bNOW\b' <<<"$dyn" || fail "$prog: FLAGS_1 lacks NOW"
  readelf -lW "$prog" | grep -q 'GNU_RELRO' || fail "$prog has no GNU_RELRO segment"
  echo "PASS: $prog: BIND_NOW and RELRO"
  ;;
*) echo "usage: check.sh exports-lib LIB HEADER | exports-pam MODULE SOURCE | bind-now PROGRAM" >&2; exit 2 ;;
esac
