#!/bin/bash
# Runs in the booted guest, as root, from p9-system-test.service: the stage
# the host wrote to /mnt/share/stage (tests/system/run.sh says what each
# does). Writes TAP lines to /mnt/share/results-STAGE, ends with
# "# stage STAGE done" and powers the guest off.
set -u
share=/mnt/share
stage=$(cat "$share/stage")
results=$share/results-$stage
here=$share/guest
: >"$results"
n=0
say() { echo "$*" >>"$results"; echo "p9-system-test: $*"; }
ok() { n=$((n + 1)); say "ok $n - $*"; }
not_ok() { n=$((n + 1)); say "not ok $n - $*"; }
# check DESCRIPTION COMMAND...: one TAP line; the command's output on failure.
check() {
    local desc=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if ((rc == 0)); then ok "$desc"; else
        not_ok "$desc (exit $rc)"
        sed 's/^/#   /' <<<"$out" | head -40 >>"$results"
    fi
}
# poll SECONDS COMMAND...: until the command succeeds or the deadline passes.
poll() {
    local end=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < end)) || return 1
        sleep 0.2
    done
}
finish() {
    say "# stage $stage done"
    sync
    systemctl poweroff --no-block
    exit 0
}

# The state one stage leaves the next: bob's password changes in stage
# install (passwd inside his session), so it lives on the guest's disk.
state=/var/lib/p9-system-test
mkdir -p "$state"
alice_pw='alice pw 1'
logins=0
bob_pw() { cat "$state/bob-pw"; }

# --- the checks every stage makes --------------------------------------

# The boot finished with no failed unit (this test's own unit aside).
check_boot() {
    local s
    s=$(systemctl is-system-running --wait 2>&1)
    local failed
    failed=$(systemctl --failed --no-legend --plain | grep -v '^p9-system-test' || true)
    if [[ -z $failed ]]; then ok "no failed unit ($s)"; else
        not_ok "failed units"
        sed 's/^/#   /' <<<"$failed" >>"$results"
        while read -r u _; do
            journalctl -b -u "$u" --no-pager -o cat | tail -15 | sed "s/^/#   $u: /" >>"$results"
        done <<<"$failed"
    fi
}

# Nothing was refused by a seccomp filter, ours or systemd's, this boot.
check_no_seccomp() {
    local hits
    hits=$(journalctl -b --no-pager -o cat | grep -E 'forbidden system call|type=1326|SIGSYS' || true)
    if [[ -z $hits ]]; then ok "nothing refused by seccomp this boot"; else
        not_ok "seccomp refused something"
        sed 's/^/#   /' <<<"$hits" | head -20 >>"$results"
    fi
}

# --- logins ----------------------------------------------------------------

# p9su_login NAME: alice runs `p9su - bob` on a pty and types his password;
# inside, bob's shell reports who it is and its no_new_privs flag. (p9su,
# like su, writes no utmp record: decisions.md 35.)
p9su_login() {
    local name=$1 t
    t=$state/p9su-$((++logins))
    cat >"$t.script" <<EOF
expect Password:
send $(bob_pw)
expect bob@p9test
send echo "ID=\$(id -un):\$(id -u) NNP=\$(awk '/^NoNewPrivs/ {print \$2}' /proc/self/status)"; echo DONE
expect DONE\r?\n
send exit
EOF
    local rc=0
    python3 "$here/expect.py" --user alice "$t.out" "$t.script" -- p9su - bob || rc=$?
    rm -f "$t.script"
    if ((rc == 0)) && grep -qa 'ID=bob:' "$t.out"; then ok "$name: alice becomes bob with p9su - on a pty"
    else
        not_ok "$name: alice becomes bob with p9su - on a pty (exit $rc)"
        tr -d '\r' <"$t.out" | sed 's/^/#   /' | tail -60 >>"$results"
        journalctl -b --no-pager -o cat -u factotum.service | tail -10 | sed 's/^/#   factotum: /' >>"$results"
        return
    fi
    if grep -qa 'NNP=0' "$t.out"; then ok "$name: bob's session has no no_new_privs"
    else not_ok "$name: bob's session has no_new_privs: $(grep -ao 'NNP=[0-9]*' "$t.out")"; fi
}

# p9su_passwd: inside bob's p9su session, passwd changes his password (a
# set-uid program works in the session); the next logins use the new one.
p9su_passwd() {
    local t=$state/passwd new='Bob pw 2!'
    cat >"$t.script" <<EOF
expect Password:
send $(bob_pw)
expect bob@p9test
send passwd
expect (Current|current|\(current\)).*[Pp]assword:
send $(bob_pw)
expect New password:
send $new
expect Retype new password:
send $new
expect password updated successfully
send exit
EOF
    local rc=0
    python3 "$here/expect.py" --user alice "$t.out" "$t.script" -- p9su - bob || rc=$?
    rm -f "$t.script"
    if ((rc == 0)); then
        echo "$new" >"$state/bob-pw"
        ok "passwd works inside bob's p9su session"
    else
        not_ok "passwd inside bob's p9su session (exit $rc)"
        tr -d '\r' <"$t.out" | sed 's/^/#   /' | tail -15 >>"$results"
    fi
}

# p9logind_login NAME: bob over TCP through the socket-activated p9logind;
# inside, `who` lists his session on its pty.
p9logind_login() {
    local name=$1 port out
    port=$(systemctl show -P Listen p9logind.socket | sed -n 's/.*:\([0-9][0-9]*\) (Stream).*/\1/p' | head -1)
    if [[ -z $port ]]; then not_ok "$name: p9logind.socket listens on no TCP port"; return; fi
    out=$(printf '%s\n' bob "$(bob_pw)" 'echo "ID=$(id -un):$(id -u) TTY=$(tty)"; who | sed "s/^/WHO: /"' exit |
        timeout 120 socat -t 30 - "TCP:127.0.0.1:$port" 2>&1 | tr -d '\r') || true
    if grep -q 'ID=bob:' <<<"$out"; then
        ok "$name: bob logs in over TCP through p9logind (port $port)"
        local tty
        tty=$(sed -n 's|.*TTY=/dev/\(pts/[0-9]*\).*|\1|p' <<<"$out" | head -1)
        if [[ -n $tty ]] && grep -Eq "^WHO: bob +$tty " <<<"$out"; then ok "$name: who shows bob on $tty"
        else not_ok "$name: who does not show bob on ${tty:-?}: $(grep '^WHO' <<<"$out" | tr '\n' ';')"; fi
    else
        not_ok "$name: bob over TCP through p9logind (port $port)"
        sed 's/^/#   /' <<<"$out" | tail -15 >>"$results"
        journalctl -b --no-pager -o cat -u 'p9logind*' -u factotum.service | tail -15 | sed 's/^/#   log: /' >>"$results"
    fi
}

# --- the stages --------------------------------------------------------------

all_packages=(p9authfs factotum libpam-p9auth libp9auth0 libp9auth-dev p9auth-login p9auth-dkms)

stage_install() {
    check "dpkg sees none of our packages yet" bash -c '! dpkg -l p9authfs 2>/dev/null | grep -q ^ii'
    local log=$state/apt-install.log
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$share"/debs/*.deb >"$log" 2>&1; then
        ok "apt installs the packages (no network: their dependencies are in the stock image)"
    else
        not_ok "apt install"
        tail -30 "$log" | sed 's/^/#   /' >>"$results"
        finish
    fi
    check "p9use has exactly CAP_SETUID, CAP_SETGID and CAP_SETPCAP, permitted only" \
        bash -c 'getcap /usr/bin/p9use | grep -Eq "^/usr/bin/p9use cap_setgid,cap_setuid,cap_setpcap=p$"'
    check "nsswitch.conf is stock: passwd: files systemd" grep -Eq '^passwd:[[:space:]]+files systemd' /etc/nsswitch.conf

    adduser --disabled-password --gecos '' alice >/dev/null
    adduser --disabled-password --gecos '' bob >/dev/null
    echo 'Bob pw 1!' >"$state/bob-pw"
    printf 'alice:%s\nbob:%s\n' "$alice_pw" "$(bob_pw)" | chpasswd

    # As the README's install section says.
    check "the units enable and start" systemctl enable --now run-p9auth.mount factotum.socket p9logind.socket
    check "/run/p9auth is a p9authfs mount" bash -c 'findmnt -n -o FSTYPE /run/p9auth | grep -qx fuse.p9authfs'

    p9su_login "first login"
    p9su_passwd
    # chpasswd hashes with login.defs' SHA512; passwd through pam_unix
    # (common-password) with yescrypt, Debian 12's default.
    check "passwd gave bob a yescrypt hash" bash -c '[[ $(getent shadow bob | cut -d: -f2) == "\$y\$"* ]]'
    p9su_login "with the new password"
    p9logind_login "p9logind"
    # The split (factotum(8), PRIVILEGE SEPARATION): the unit's main PID is
    # the monitor (uid 0, no capabilities); its one child, the front, runs
    # as the p9front user the package made with systemd-sysusers.
    check "the package made the user p9front" getent passwd p9front
    check "factotum's front runs as p9front, its monitor as root" bash -c \
        'm=$(systemctl show -P MainPID factotum.service) && [[ $(ps -o user= -p "$m") == root ]] &&
         [[ $(ps -o user= --ppid "$m" | tr -d " ") == p9front ]]'

    check "factotum restarts" systemctl restart factotum.service
    poll 60 systemctl is-active factotum.service
    p9logind_login "after systemctl restart factotum"
    p9su_login "p9su after the restart"
    check "factotum took caphash back from the store, and stored it once" bash -c \
        'journalctl -b -o cat -u factotum.service | grep -q "the descriptor from the service manager" &&
         ! journalctl -b -o cat -u factotum.service | grep -q "Cannot store more fds"'
    check_no_seccomp
    check_boot
    finish
}

stage_reboot() {
    check_boot
    check "factotum.socket is active after the reboot" systemctl is-active factotum.socket
    check "/run/p9auth is mounted after the reboot" bash -c 'findmnt -n -o FSTYPE /run/p9auth | grep -qx fuse.p9authfs'
    p9su_login "after a reboot"
    p9logind_login "p9logind after a reboot"
    check_no_seccomp
    finish
}

stage_kernel() {
    check_boot
    check "dkms built and installed p9auth for $(uname -r)" bash -c "dkms status p9auth | grep -q 'installed'"
    check "modprobe p9auth" modprobe p9auth
    # As p9auth.ko(8), SYSTEMD, says.
    mkdir -p /etc/systemd/system/run-p9auth.mount.d
    ln -s /usr/share/p9auth/run-p9auth.mount.d/kernel.conf /etc/systemd/system/run-p9auth.mount.d/
    systemctl daemon-reload
    check "run-p9auth.mount and factotum restart on the module" systemctl restart run-p9auth.mount factotum.service
    check "/run/p9auth is a p9auth (kernel) mount" bash -c 'findmnt -n -o FSTYPE /run/p9auth | grep -qx p9auth'
    check "p9use without file capabilities" setcap -r /usr/bin/p9use
    p9su_login "kernel mode"
    p9logind_login "p9logind in kernel mode"
    check_no_seccomp
    finish
}

stage_purge() {
    check_boot
    check "after a reboot /run/p9auth is still the module's" bash -c 'findmnt -n -o FSTYPE /run/p9auth | grep -qx p9auth'
    p9logind_login "p9logind in kernel mode after a reboot"
    local log=$state/apt-purge.log
    if DEBIAN_FRONTEND=noninteractive apt-get purge -y "${all_packages[@]}" >"$log" 2>&1; then ok "apt purge"; else
        not_ok "apt purge"
        tail -30 "$log" | sed 's/^/#   /' >>"$results"
    fi
    check "no unit of ours is left" bash -c \
        '! systemctl list-unit-files --no-legend | grep -E "^(factotum|p9logind|run-p9auth|p9auth)"'
    check "no unit of ours is loaded" bash -c \
        '! systemctl list-units --all --no-legend --plain | grep -E "^(factotum|p9logind|run-p9auth)"'
    check "nothing is mounted at /run/p9auth" bash -c '! findmnt /run/p9auth'
    check "no file of ours is left" bash -c \
        '! ls -d /etc/p9auth /etc/pam.d/p9auth /etc/pam.d/p9logind /usr/bin/p9use /usr/bin/p9su /usr/sbin/factotum /usr/sbin/p9authfs /usr/src/p9auth-* /var/lib/dkms/p9auth 2>/dev/null | grep .'
    check "the admin's kernel-mode link went with p9auth-dkms" bash -c '! ls -d /etc/systemd/system/run-p9auth.mount.d 2>/dev/null | grep .'
    check "dpkg knows none of them" bash -c '! dpkg -l "${@}" 2>/dev/null | grep -E "^(ii|rc)"' _ "${all_packages[@]}"
    finish
}

case $stage in
    install | reboot | kernel | purge) "stage_$stage" ;;
    *) say "not ok 1 - unknown stage $stage"; finish ;;
esac
