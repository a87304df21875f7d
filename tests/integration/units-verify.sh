#!/usr/bin/env bash
# Every systemd unit the build makes passes "systemd-analyze verify" with
# nothing said: an unknown key, a missing man page (Documentation=), a
# missing ExecStart= program or a bad dependency is a failure, not a
# warning. The units are checked as installed: in a scratch root holding a
# copy of the system's units, theirs, and the built programs at their
# installed paths; drop-ins are checked applied to their unit. The
# sysusers.d entries go through systemd-sysusers --dry-run there too.
#
#   units-verify.sh MANDIR -u UNIT... -d UNIT=DROPIN... -b INSTALLED=BUILT... -s SYSUSERS...
set -euo pipefail

command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze" >&2; exit 77; }
sysunits=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
[[ -f $sysunits/sysinit.target ]] || { echo "SKIP: no system units in $sysunits" >&2; exit 77; }

mandir=$1
shift
units=() dropins=() binaries=() sysusers=()
mode=
for a in "$@"; do
    case $a in
    -u | -d | -b | -s) mode=$a ;;
    *) case $mode in
        -u) units+=("$a") ;;
        -d) dropins+=("$a") ;;
        -b) binaries+=("$a") ;;
        -s) sysusers+=("$a") ;;
        *) echo "FAIL: usage: $0 MANDIR -u UNIT... -d UNIT=DROPIN... -b INSTALLED=BUILT... -s SYSUSERS..." >&2; exit 2 ;;
       esac ;;
    esac
done
((${#units[@]} > 0)) || { echo "FAIL: no units given" >&2; exit 1; }

tmp=$(mktemp -d /tmp/p9auth-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/etc"
cp -a "$sysunits" "$root/usr/lib/systemd/system"
# man: our pages first, then the system's (systemd.exec and the like).
for page in "$mandir"/*.[1-8]; do
    mkdir -p "$tmp/man/man${page##*.}"
    ln -s "$page" "$tmp/man/man${page##*.}/"
done
export MANPATH=$tmp/man:

fail=0
verify() {  # verify WHAT NAME...: NAME... are unit names in $root
    local what=$1 out
    shift
    out=$(systemd-analyze verify --root="$root" "$@" 2>&1) || { echo "FAIL: $what: verify exited $?: $out"; fail=1; return; }
    if [[ -n $out ]]; then
        echo "FAIL: $what: $out"
        fail=1
    else
        echo "PASS: $what"
    fi
}

for b in "${binaries[@]}"; do
    install -D -m 0755 "${b#*=}" "$root${b%%=*}"
done
# The system's own programs that the units run (ExecReload=+/bin/kill ...),
# from this host, where ours did not put them.
for u in "${units[@]}"; do
    [[ -f $u ]] || continue
    while read -r prog; do
        [[ -e $root$prog || ! -x $prog ]] || install -D -m 0755 "$prog" "$root$prog"
    done < <(sed -n 's/^Exec[A-Za-z]*=[-+@!:]*\(\/[^[:space:]]*\).*/\1/p' "$u")
done
names=()
for u in "${units[@]}"; do
    [[ -f $u ]] || { echo "FAIL: $u was not built"; fail=1; continue; }
    n=${u##*/}
    cp "$u" "$root/etc/systemd/system/$n"
    # A template is verified as an instance (systemd-analyze's "i").
    [[ $n == *@.* ]] && n=${n/@./@i.}
    names+=("$n")
done
for n in "${names[@]}"; do
    verify "$n" "$n"
done
for d in "${dropins[@]}"; do
    unit=${d%%=*} file=${d#*=}
    mkdir -p "$root/etc/systemd/system/$unit.d"
    cp "$file" "$root/etc/systemd/system/$unit.d/"
    verify "$unit with ${file##*/}" "$unit"
    rm -r "$root/etc/systemd/system/$unit.d"
done

# sysusers.d: the syntax, and the groups named exist on this system.
if ((${#sysusers[@]} > 0)); then
    if command -v systemd-sysusers >/dev/null; then
        for f in passwd group shadow gshadow; do
            [[ -r /etc/$f ]] && cp /etc/$f "$root/etc/$f"
        done
        for s in "${sysusers[@]}"; do
            out=$(systemd-sysusers --root="$root" --dry-run "$s" 2>&1) || { echo "FAIL: ${s##*/}: $out"; fail=1; continue; }
            if grep -qiE 'fail|error|invalid|unknown|warn' <<<"$out"; then
                echo "FAIL: ${s##*/}: $out"
                fail=1
            else
                echo "PASS: ${s##*/}: $(tr '\n' ' ' <<<"$out")"
            fi
        done
    else
        echo "SKIP: no systemd-sysusers for ${sysusers[*]}"
    fi
fi
exit $fail
