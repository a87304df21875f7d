#!/usr/bin/env bash
# factotum's grant rate and latency against the filesystem's raw grant rate.
#
#   bench/factotum/run.sh BUILD_DIR [N]
#
# Runs as root in a private namespace (factotum/tests/lib.sh: tmpfs /run,
# fixture users, private pam.d and /dev), with PAM stack pam_permit so the
# figures measure factotum itself, not password hashing. Prints the
# machine, factotum's rate and p50/p99 (one client at a time, then
# concurrent clients), p9grant's (one process per grant, as scripts use
# it), the filesystem's ceiling (hashes written in a loop by one process),
# and the ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [[ ${FT_IN_NS:-} != 1 ]]; then
    build=$(cd "${1:?usage: run.sh BUILD_DIR [N]}" && pwd)
    export FACTOTUM=$build/factotum/factotum P9AUTH_REQUEST=$build/factotum/p9auth-request
    export FT_CLIENT=$build/factotum/tests/factotum-test-client FT_SYSLOG=$build/factotum/tests/factotum-test-syslog
    export FT_BENCH=$build/factotum/factotum-bench
    export P9AUTHFS=$build/fs/p9auth/fuse/p9authfs P9USE=$build/fs/p9auth/switch/p9use P9GRANT=$build/fs/p9auth/grant/p9grant
    for f in "$FACTOTUM" "$FT_BENCH" "$P9AUTHFS" "$P9USE" "$P9GRANT"; do
        [[ -x $f ]] || { echo "run.sh: $f not built" >&2; exit 77; }
    done
    export FT_N=${2:-2000}
fi
# shellcheck source=../../factotum/tests/lib.sh
. "$top/factotum/tests/lib.sh"
ft_enter "$@"

n=$FT_N
ft_mount "maxcaps=1000000,timeout=3600"
# A site's worth of subordinate ranges (2000 owners, numeric: no NSS), so
# that charging each connection (a stat of /etc/subuid and a search) runs
# as it would there. A factotum that predates it ignores the file.
if [[ -e /etc/subuid ]]; then
    for i in $(seq 1 2000); do echo "$((10000 + i)):$((100000 + i * 65536)):65536"; done >"$FT_TMP/etc/subuid"
    mount --bind -o ro "$FT_TMP/etc/subuid" /etc/subuid
fi
# One client uid here: let it use all the workers (the default, 2 per uid,
# is for fairness between users, not speed).
# Its grants are bounded per uid as well (--grants-per-uid): lift the bound
# so that it never refuses, while its bookkeeping still runs on every grant.
quota=()
"$FACTOTUM" --help | grep -q -- --grants-per-uid && quota=(--grants-per-uid 16777216 --grant-window 1)
ft_start --pam-service p9auth-permit --workers 8 --workers-per-uid 8 --queue-per-uid 1024 --max-per-uid 1024 "${quota[@]}"
bench() { p9_as alice "$FT_BENCH" "$@"; }

echo "machine: $(nproc) cpus, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
echo "stack: pam_permit (auth, account); p9authfs FUSE; $n grants each"
bench factotum "$FT_SOCK" bob 50 1 >/dev/null  # warm-up
f1=$(bench factotum "$FT_SOCK" bob "$n" 1)
f8=$(bench factotum "$FT_SOCK" bob "$n" 8)
g1=$("$FT_BENCH" p9grant "$P9GRANT" "$FT_MNT" alice bob "$n")
c1=$("$FT_BENCH" caphash "$FT_MNT" "$n")
fl=$("$FT_BENCH" floor p9auth-permit "$FT_MNT" bob "$n")
echo "$f1"
echo "$f8"
echo "$g1"
echo "$c1"
echo "$fl"
rate() { sed -n 's/.* rate=\([0-9.]*\)\/s.*/\1/p' <<<"$1"; }
awk -v a="$(rate "$f1")" -v b="$(rate "$f8")" -v g="$(rate "$g1")" -v c="$(rate "$c1")" -v f="$(rate "$fl")" 'BEGIN {
    printf "ratio factotum(1)/p9grant = %.2f, factotum(8)/p9grant = %.2f\n", a / g, b / g
    printf "ratio factotum(1)/caphash = %.3f, factotum(8)/caphash = %.3f\n", a / c, b / c
    printf "ratio factotum(1)/floor = %.2f (floor: NSS + PAM + caphash in one process, no factotum)\n", a / f }'
