#!/usr/bin/env bash
# clang-format (.clang-format at the top; the kernel-style folders turn it
# off in their own) on every C and C++ file of the tree: any file it would
# change fails the test, with the first lines of what it would change.
#
#   tests/lint/format.sh SOURCE_DIR
set -euo pipefail
top=$(cd "${1:?usage: format.sh SOURCE_DIR}" && pwd)
cd "$top"
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed" >&2; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' 2>/dev/null ||
    find . \( -path ./build -prune \) -o -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) -printf '%P\n')
((${#files[@]} > 0)) || { echo "FAIL: no sources found under $top" >&2; exit 1; }
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "FAIL: $f is not formatted (clang-format -i $f):"
        clang-format "$f" | diff "$f" - | head -10 || true
        bad=$((bad + 1))
    fi
done
((bad == 0)) || { echo "FAIL: $bad of ${#files[@]} files differ from .clang-format" >&2; exit 1; }
echo "PASS: clang-format: ${#files[@]} files as .clang-format has them"
