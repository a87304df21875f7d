#!/usr/bin/env bash
# clang-tidy (.clang-tidy at the top) on every C++ translation unit of a
# configured build (its compile_commands.json), two at a time; any finding
# fails the test. The kernel module is C in kernel style and not built by
# CMake: it is not checked here.
#
#   tests/lint/tidy.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
top=$(cd "${1:?usage: tidy.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: tidy.sh SOURCE_DIR BUILD_DIR}" && pwd)
command -v clang-tidy >/dev/null || { echo "SKIP: clang-tidy not installed" >&2; exit 77; }
db=$build/compile_commands.json
[[ -f $db ]] || { echo "FAIL: $db missing (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2; exit 1; }
mapfile -t files < <(python3 -c '
import json, sys
top = sys.argv[2]
seen = set()
for e in json.load(open(sys.argv[1])):
    f = e["file"]
    if f.startswith(top + "/") and f.endswith(".cpp") and "/build/" not in f and f not in seen:
        seen.add(f)
        print(f)
' "$db" "$top")
((${#files[@]} > 0)) || { echo "FAIL: no translation units in $db" >&2; exit 1; }
out=$(mktemp)
# The build is GCC's: a GCC-only warning option (spec_test.cpp's
# -Wno-maybe-uninitialized) is not an error of the tree.
trap 'rm -f "$out"' EXIT
printf '%s\0' "${files[@]}" | xargs -0 -n 4 -P 2 clang-tidy -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option >"$out" 2>&1 || true
if grep -qE '(warning|error): ' "$out"; then
    grep -E '(warning|error): ' "$out" | sort -u
    echo "FAIL: clang-tidy: findings in ${#files[@]} translation units" >&2
    exit 1
fi
echo "PASS: clang-tidy: ${#files[@]} translation units, no findings"
