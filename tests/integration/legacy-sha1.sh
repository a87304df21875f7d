#!/usr/bin/env bash
# The Plan 9 / Linux-2010 wire format: a 20-byte HMAC-SHA1 computed by
# openssl (not by our core) is accepted with legacy_sha1, refused without.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
p9_enter "$@"

key=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
text="2001@2002:2002:2100"
printf '%s' "$text" | openssl dgst -sha1 -hmac "$key" -binary >"$P9_TMP/hash"
[[ $(stat -c %s "$P9_TMP/hash") == 20 ]] || p9_fail "openssl made $(stat -c %s "$P9_TMP/hash") bytes"

# grant_hash MOUNTPOINT: one 20-byte write to caphash.
grant_hash() { dd if="$P9_TMP/hash" of="$1/caphash" bs=64 conv=notrunc status=none 2>&1; }

p9_start /run/p9auth legacy_sha1
grant_hash /run/p9auth || p9_fail "20-byte grant with legacy_sha1 refused"
got=$(p9_use alice "$text@$key" /bin/cat /proc/self/status | p9_creds)
[[ $got == "$(p9_want 2002 2002 2100)" ]] || p9_fail "legacy use: $got"
p9_pass "HMAC-SHA1 from openssl accepted with legacy_sha1: $got"
p9_stop /run/p9auth "$P9_PID"

p9_start /run/p9auth
err=$(grant_hash /run/p9auth) && p9_fail "20-byte grant accepted without legacy_sha1"
[[ $err == *"Invalid argument"* ]] || p9_fail "20-byte grant without legacy_sha1: '$err', want EINVAL"
rc=0
out=$(p9_use alice "$text@$key" /usr/bin/id -u 2>/dev/null) || rc=$?
[[ $rc == 1 && -z $out ]] || p9_fail "use after the refused grant: exit $rc, ran as '$out'"
p9_pass "refused without legacy_sha1: $err"
p9_stop /run/p9auth "$P9_PID"
