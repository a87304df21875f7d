#!/usr/bin/env bash
# Installs the Debian packages in scripts/debian-packages.txt that are missing.
# Runs as root (CI) or through sudo. Never asks a question.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/debian-packages.txt")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The directory tests' packages (slapd, nslcd, SSSD, Kerberos) configure
  # the host they land on: slapd makes a database, libnss-ldapd/libnss-sss add
  # themselves to nsswitch.conf, libpam-ldapd/libpam-sss/libpam-krb5 to
  # common-*, krb5-config asks for servers and krb5-kdc to write kdc.conf
  # (neither: the Kerberos test makes its realm in its own directory). The
  # tests bring their own configuration; the host's stays as it was.
  debconf-set-selections <<'SEL'
slapd slapd/no_configuration boolean true
libnss-ldapd libnss-ldapd/nsswitch multiselect
nslcd nslcd/ldap-uris string ldapi:///
nslcd nslcd/ldap-base string dc=invalid
krb5-config krb5-config/read_conf boolean true
krb5-config krb5-config/add_servers boolean false
krb5-kdc krb5-kdc/debconf boolean false
SEL
  keep=$(mktemp -d)
  for f in /etc/nsswitch.conf /etc/pam.d/common-{auth,account,password,session,session-noninteractive}; do
    [[ -f $f ]] && cp -p "$f" "$keep/${f//\//_}"
  done
  # Services installed here do not start (the tests start their own).
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  ((own_policy)) && rm -f "$policy"
  for k in "$keep"/*; do
    [[ -e $k ]] || continue
    f=${k##*/}; f=${f//_//}
    cmp -s "$k" "$f" || { cp -p "$k" "$f"; echo "install-deps: kept $f as it was"; }
  done
  rm -rf "$keep"
  exit "$rc"
fi
