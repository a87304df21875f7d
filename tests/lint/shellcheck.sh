#!/usr/bin/env bash
# Runs shellcheck on every shell script the tree holds (by name or by #! line),
# with the repository's .shellcheckrc; any finding fails the test.
#
#   tests/lint/shellcheck.sh SOURCE_DIR
set -euo pipefail
top=$(cd "${1:?usage: shellcheck.sh SOURCE_DIR}" && pwd)
cd "$top"
command -v shellcheck >/dev/null || { echo "SKIP: shellcheck not installed" >&2; exit 77; }
mapfile -t scripts < <(
    git ls-files 2>/dev/null || find . -type f -not -path './build/*' -printf '%P\n'
)
targets=()
for f in "${scripts[@]}"; do
    [[ -f $f && $f != build/* ]] || continue
    case $f in
    *.sh) targets+=("$f") ;;
    *.py | *.cpp | *.hpp | *.c | *.h | *.md | *.txt | *.in) ;;
    *) head -c 64 "$f" 2>/dev/null | head -1 | grep -qE '^#!.*\b(ba)?sh\b' && targets+=("$f") ;;
    esac
done
((${#targets[@]} > 0)) || { echo "FAIL: no scripts found under $top" >&2; exit 1; }
if shellcheck -x -f gcc "${targets[@]}"; then
    echo "PASS: shellcheck: ${#targets[@]} scripts, no findings"
else
    echo "FAIL: shellcheck found the above in ${#targets[@]} scripts" >&2
    exit 1
fi
