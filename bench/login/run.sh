#!/usr/bin/env bash
# p9su against util-linux su: `p9su bob -c true` and `su bob -c true`, run
# by alice on a pseudo-terminal with bob's password typed at the prompt,
# the same PAM stack (pam_unix, nodelay) for both, interleaved in one run.
#
#   bench/login/run.sh BUILD_DIR [N]
#
# Runs as root in a private namespace (pam_p9auth/tests/lib.sh over
# factotum/tests/lib.sh). Prints the machine, each tool's mean, p50 and p99
# per login, and the ratio p9su / su.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [[ ${FT_IN_NS:-} != 1 ]]; then
    build=$(cd "${1:?usage: run.sh BUILD_DIR [N]}" && pwd)
    export FACTOTUM=$build/factotum/factotum P9AUTH_REQUEST=$build/factotum/p9auth-request
    export FT_CLIENT=$build/factotum/tests/factotum-test-client FT_SYSLOG=$build/factotum/tests/factotum-test-syslog
    export P9AUTHFS=$build/fs/p9auth/fuse/p9authfs P9USE=$build/fs/p9auth/switch/p9use
    export PAM_P9AUTH=$build/pam_p9auth/pam_p9auth.so PAM_TAKE=$build/pam_p9auth/tests/p9auth-test-pam-take
    export P9SU=$build/tools/p9su/p9su
    for f in "$FACTOTUM" "$P9AUTHFS" "$P9USE" "$P9SU" "$PAM_P9AUTH"; do
        [[ -e $f ]] || { echo "run.sh: $f not built" >&2; exit 77; }
    done
    command -v su >/dev/null || { echo "run.sh: util-linux su not installed" >&2; exit 77; }
    export LB_N=${2:-200}
fi
# shellcheck source=../../pam_p9auth/tests/lib.sh
. "$top/pam_p9auth/tests/lib.sh"
login_enter "$@"

n=$LB_N
# su's own service, the same stack factotum runs (p9auth-test).
printf 'auth required pam_unix.so nodelay\naccount required pam_unix.so\nsession required pam_permit.so\n' \
    >"$FT_TMP/etc/pam.d/su"
run() {  # run N PROGRAM...: as alice on a pty, bob's password typed
    printf '%s\n' 'bob secret!' | python3 "$here/pty_bench.py" "$1" -- \
        setpriv --reuid=alice --regid=alice --init-groups -- env -i PATH=/usr/bin:/bin TERM=dumb "${@:2}"
}
p9su=("$P9SU" --socket "$FT_SOCK" --p9use "$P9USE_CAPS" bob -c true)
su=(su bob -c true)

echo "machine: $(nproc) cpus, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
echo "stack: pam_unix (sha512crypt, nodelay) for both; p9authfs FUSE; $n logins each, interleaved in rounds of 10"
run 5 "${p9su[@]}" >/dev/null
run 5 "${su[@]}" >/dev/null
declare -a a b
for ((i = 0; i < n / 10; i++)); do
    a+=("$(run 10 "${p9su[@]}")")
    b+=("$(run 10 "${su[@]}")")
done
summary() { printf '%s\n' "$@" | awk '{ m += $1; p += $2; q = ($3 > q ? $3 : q); f += $4 } END { printf "%.2f %.2f %.2f %d\n", m / NR, p / NR, q, f }'; }
read -r am ap aq af < <(summary "${a[@]}")
read -r bm bp bq bf < <(summary "${b[@]}")
printf '%-22s mean %8.2f ms  p50 %8.2f ms  worst-round p99 %8.2f ms  failures %d\n' \
    "p9su bob -c true" "$am" "$ap" "$aq" "$af" "su bob -c true" "$bm" "$bp" "$bq" "$bf"
awk -v a="$am" -v b="$bm" 'BEGIN { printf "ratio p9su / su (mean): %.2f\n", a / b }'
[[ $af == 0 && $bf == 0 ]] || { echo "run.sh: some logins failed" >&2; exit 1; }
