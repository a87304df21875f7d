# shellcheck shell=bash
# The login tools with the kernel module: factotum (real pam_unix, fixture
# users), pam_p9auth and p9logind, run inside the test VM on a p9auth.ko
# mount, with p9use switching through the module alone (no file
# capabilities: the initramfs has none). Sourced by run-vm-tests.sh.
#
#   vm_login_payload ROOT FACTOTUM P9LOGIND PAM_P9AUTH
#       copies the programs, the shared libraries and PAM modules they load,
#       and the fixture /etc into ROOT.
#   vm_login_init     the /init lines that run the login (after the suite).
#   vm_login_verdict CONSOLE
#       fails (via bad) unless the login happened as the init lines say.

# vm_login_copy ROOT FILE...: each FILE and every library ldd names for it,
# at the same path under ROOT.
vm_login_copy() {
  local root=$1 f lib
  shift
  for f in "$@"; do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}

vm_login_payload() {
  local root=$1 factotum=$2 p9logind=$3 pam_p9auth=$4 sec=/lib/x86_64-linux-gnu/security today d
  mkdir -p "$root/login"
  cp "$factotum" "$root/login/factotum"
  cp "$p9logind" "$root/login/p9logind"
  cp "$pam_p9auth" "$root/login/pam_p9auth.so"
  chmod 0755 "$root/login/factotum" "$root/login/p9logind"
  chmod 0644 "$root/login/pam_p9auth.so"
  vm_login_copy "$root" "$factotum" "$p9logind" "$pam_p9auth" "$sec/pam_unix.so" "$sec/pam_permit.so" "$sec/pam_deny.so"
  d=$root/etc
  mkdir -p "$d/pam.d" "$d/p9auth" "$root/home/bob"
  cat >"$d/passwd" <<'P'
root:x:0:0:root:/:/bin/sh
alice:x:2001:2001:Alice:/:/bin/sh
bob:x:2002:2002:Bob:/home/bob:/bin/sh
p9login:x:3020:3020:p9logind:/:/bin/false
p9front:x:3011:3011:factotum front:/:/bin/false
P
  cat >"$d/group" <<'G'
root:x:0:
alice:x:2001:
bob:x:2002:
staff:x:2100:alice,bob
p9login:x:3020:
p9front:x:3011:
G
  today=$(($(date +%s) / 86400))
  {
    echo "root:!:$today:0:99999:7:::"
    echo "bob:$(openssl passwd -6 -salt bobsalt01 'bob secret!'):$today:0:99999:7:::"
    echo "p9login:!:$today:0:99999:7:::"
  } >"$d/shadow"
  chmod 0640 "$d/shadow"
  printf 'passwd: files\ngroup: files\nshadow: files\n' >"$d/nsswitch.conf"
  printf 'auth required pam_unix.so nodelay\naccount required pam_unix.so\n' >"$d/pam.d/p9auth"
  # p9logind opens the session phase too (p9logind(8), PAM): a service
  # without session modules refuses the login.
  printf 'auth required /login/pam_p9auth.so socket=/run/factotum.sock\naccount required /login/pam_p9auth.so socket=/run/factotum.sock\nsession required pam_permit.so\n' \
    >"$d/pam.d/p9login"
  printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$d/pam.d/other"
  printf 'permit * as bob\n' >"$d/p9auth/factotum.conf"
  chmod 0644 "$d/p9auth/factotum.conf"
  chmod 0700 "$root/home/bob"
  chown 2002:2002 "$root/home/bob"
}

vm_login_init() {
  cat <<'EOF'
if [ -x /login/factotum ] && [ -x /p9use ]; then
  mkdir -p /dev/pts /run/p9auth
  mount -t devpts -o ptmxmode=0666,mode=0620 devpts /dev/pts
  mount -t p9auth p9auth /run/p9auth
  /login/factotum --mount /run/p9auth --socket /run/factotum.sock --policy /etc/p9auth/factotum.conf \
    --pam-service p9auth --stderr 2>/tmp/factotum.err &
  fpid=$!
  i=0
  while [ ! -S /run/factotum.sock ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
  [ -S /run/factotum.sock ] || { echo "P9AUTH-VM: login: factotum did not start"; cat /tmp/factotum.err; }
  # p9logind's failed-login counts (--state-dir): p9login's own, as tmpfiles.d makes it.
  mkdir -p /run/p9logind && chown 3020:3020 /run/p9logind && chmod 0700 /run/p9logind
  logind() {
    printf '%s\n' "$@" | timeout 60 /p9auth-smoke --as 3020 3020 \
      /login/p9logind --inetd --service p9login --p9use /p9use --auth-timeout 20 --idle-timeout 30 2>>/tmp/logind.err
  }
  out=$(logind bob 'bob secret!' 'id; echo "PWD=$(pwd) ARGV0=$0"; grep -E "^(Cap(Prm|Eff)|NoNewPrivs):" /proc/self/status' exit | tr -d '\r')
  echo "$out" | sed 's/^/P9AUTH-VM: login: /'
  if echo "$out" | grep -q 'uid=2002(bob) gid=2002(bob) groups=2002(bob),2100(staff)' &&
     echo "$out" | grep -q 'PWD=/home/bob ARGV0=-sh' &&
     echo "$out" | grep -q 'CapEff:.0000000000000000' &&
     echo "$out" | grep -q 'NoNewPrivs:.0'; then
    echo "P9AUTH-VM: login as bob ok"
  fi
  out=$(logind bob 'not bob' 'id' | tr -d '\r')
  echo "$out" | sed 's/^/P9AUTH-VM: login (wrong password): /'
  if echo "$out" | grep -q 'Login incorrect' && ! echo "$out" | grep -q 'uid=2002'; then
    echo "P9AUTH-VM: wrong password refused"
  fi
  echo "P9AUTH-VM: login status $(tr '\n' ' ' </run/p9auth/status)"
  sed 's/^/P9AUTH-VM: factotum: /' /tmp/factotum.err
  sed 's/^/P9AUTH-VM: p9logind: /' /tmp/logind.err
  kill $fpid
  wait $fpid
  umount /run/p9auth
else
  echo "P9AUTH-VM: login: not in this initramfs"
fi
EOF
}

vm_login_verdict() {
  grep -aq 'P9AUTH-VM: login as bob ok' "$1" || bad "p9logind on p9auth.ko: bob's login did not run as exactly bob in his home"
  grep -aq 'P9AUTH-VM: wrong password refused' "$1" || bad "p9logind on p9auth.ko: a wrong password was not refused"
  grep -aq 'P9AUTH-VM: login status outstanding 0 granted 1 used 1 ' "$1" ||
    bad "p9logind on p9auth.ko: not exactly one grant, used once"
  grep -aq 'P9AUTH-VM: factotum: .*started: .*CapEff=0000000000000000 CapBnd=0000000000000000 NoNewPrivs=1 Seccomp=2' "$1" ||
    bad "factotum in the VM did not start confined"
  if grep -a 'P9AUTH-VM: ' "$1" | grep -aF 'bob secret'; then bad "the password reached the console"; fi
}
