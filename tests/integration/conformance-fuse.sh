#!/usr/bin/env bash
# The FUSE half of the conformance run: p9auth-conformance --impl fuse,
# natively, as root in a private namespace with a file-capable p9use.
#   conformance-fuse.sh P9AUTH-CONFORMANCE P9AUTHFS P9USE [--filter SUBSTR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
[[ $# -ge 3 ]] || { echo "usage: $0 P9AUTH-CONFORMANCE P9AUTHFS P9USE [ARGS...]" >&2; exit 2; }
export P9CONF=$1 P9AUTHFS=$2 P9USE=$3
p9_enter "$@"
shift 3
"$P9CONF" --impl fuse --mount /run/p9auth --p9use "$P9USE_CAPS" --p9authfs "$P9AUTHFS" "$@"
