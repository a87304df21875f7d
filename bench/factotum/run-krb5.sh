#!/usr/bin/env bash
# factotum against a real MIT KDC (pam_krb5), side by side with kinit
# against the same KDC: grants per second at 1 and 8 clients.
#
#   bench/factotum/run-krb5.sh BUILD_DIR [N]
#
# Root; a private network namespace (the KDC on its loopback) and the
# private mount namespace of factotum/tests/lib.sh; the realm is made in
# the namespace's temporary directory from factotum/tests/kerberos/'s
# fixtures, /etc/krb5.conf bound over in the namespace only. Both sides do
# the same Kerberos work per login: an AS exchange with encrypted-timestamp
# pre-authentication (two round trips, the password's string-to-key). kinit
# adds a process start; factotum adds its socket, PAM and the caphash
# write. No host keytab: with one, pam_krb5 adds a TGS exchange per login.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PATH=$PATH:/usr/sbin:/sbin
if [[ ${FT_IN_NS:-} != 1 && ${FT_KRB_IN_NETNS:-} != 1 ]]; then
    build=$(cd "${1:?usage: run-krb5.sh BUILD_DIR [N]}" && pwd)
    export FACTOTUM=$build/factotum/factotum P9AUTH_REQUEST=$build/factotum/p9auth-request
    export FT_CLIENT=$build/factotum/tests/factotum-test-client FT_SYSLOG=$build/factotum/tests/factotum-test-syslog
    export FT_BENCH=$build/factotum/factotum-bench
    export P9AUTHFS=$build/fs/p9auth/fuse/p9authfs P9USE=$build/fs/p9auth/switch/p9use
    for f in "$FACTOTUM" "$FT_BENCH" "$P9AUTHFS" "$P9USE"; do
        [[ -x $f ]] || { echo "run-krb5.sh: $f not built" >&2; exit 77; }
    done
    for b in krb5kdc kdb5_util kadmin.local kinit ip; do
        command -v "$b" >/dev/null || { echo "run-krb5.sh: $b not installed (krb5-kdc, krb5-admin-server, krb5-user)" >&2; exit 77; }
    done
    export FT_N=${2:-500}
    export FT_KRB_IN_NETNS=1
    exec unshare --net -- "$0" "$@"
fi
# shellcheck source=../../factotum/tests/lib.sh
. "$top/factotum/tests/lib.sh"
ft_enter "$@"
ip link set lo up
n=$FT_N
fixtures=$top/factotum/tests/kerberos
k=$FT_TMP/krb5
mkdir -p "$k"
sed "s|@TMP@|$FT_TMP|g" "$fixtures/kdc.conf.in" >"$k/kdc.conf"
sed "s|@TMP@|$FT_TMP|g" "$fixtures/krb5.conf.in" >"$k/krb5.conf"
chmod 0644 "$k/krb5.conf"
: >"$k/kadm5.acl"
mount --bind -o ro "$k/krb5.conf" /etc/krb5.conf
export KRB5_KDC_PROFILE=$k/kdc.conf
kdb5_util create -s -r P9AUTH.TEST -P 'bench master key' >/dev/null 2>&1
kadmin.local addprinc -pw 'bob kerberos!' bob >/dev/null 2>&1
krb5kdc -n 2>"$k/kdc.err" &
FT_DAEMONS+=($!)
disown
export FT_BENCH_PASSWORD='bob kerberos!'
kdc_answers() { KRB5CCNAME=MEMORY:probe kinit bob <<<"$FT_BENCH_PASSWORD" >/dev/null 2>&1; }
p9_poll 15 kdc_answers || ft_fail "the KDC does not issue tickets"
# The KDC logs every exchange to a file; keep it, as a real KDC would.

ft_mount "maxcaps=1000000,timeout=3600"
printf 'auth required pam_krb5.so minimum_uid=1000 no_ccache\naccount required pam_krb5.so minimum_uid=1000 no_ccache\n' \
    >"$FT_TMP/etc/pam.d/p9auth-krb5"
ft_start --pam-service p9auth-krb5 --network --workers 8 --workers-per-uid 8 --queue-per-uid 1024 --max-per-uid 1024 \
    --grants-per-uid 16777216 --grant-window 1
bench() { p9_as alice env FT_BENCH_PASSWORD="$FT_BENCH_PASSWORD" "$FT_BENCH" "$@"; }

echo "machine: $(nproc) cpus, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
echo "stack: pam_krb5 no_ccache against krb5kdc $(dpkg-query -W -f='${Version}' krb5-kdc 2>/dev/null) on loopback; $n logins each"
bench factotum "$FT_SOCK" bob 20 1 >/dev/null  # warm-up
"$FT_BENCH" kinit "$(command -v kinit)" bob 20 1 >/dev/null
f1=$(bench factotum "$FT_SOCK" bob "$n" 1)
k1=$("$FT_BENCH" kinit "$(command -v kinit)" bob "$n" 1)
f8=$(bench factotum "$FT_SOCK" bob "$n" 8)
k8=$("$FT_BENCH" kinit "$(command -v kinit)" bob "$n" 8)
printf '%s\n' "$f1" "$k1" "$f8" "$k8"
! grep "$(ft_who "$FT_PID")" "$FT_TMP/syslog" | grep -q seccomp || ft_fail "something was trapped"
rate() { sed -n 's/.* rate=\([0-9.]*\)\/s.*/\1/p' <<<"$1"; }
awk -v f1="$(rate "$f1")" -v k1="$(rate "$k1")" -v f8="$(rate "$f8")" -v k8="$(rate "$k8")" 'BEGIN {
    printf "ratio factotum/kinit: %.2f at 1 client, %.2f at 8 (aim >= 0.8)\n", f1 / k1, f8 / k8 }'
