#!/bin/bash
# shellcheck disable=SC2034  # its variables are for the scripts that source it
# bench/setup.sh: the three ways to the same upstream, for bench/run.sh and
# bench/profile.sh (source it). An OpenSSH sshd upstream that takes public
# keys only; an OpenSSH bastion (sshd -i under systemd-socket-activate
# --inetd); sshroute under systemd-socket-activate with one route whose
# client key is mapped onto sshroute's identity. Then `on VARIANT ...` runs
# a command on the upstream by way of direct, bastion or sshroute.
#
# The relay's own processes run under /usr/bin/time, each appending "USER
# SYSTEM" CPU seconds to a file when it ends: sshroute ($T/cpu.sshroute),
# the bastion's sshd -i ($T/cpu.bastion, with the children it waits for)
# and the client's ProxyCommand, ssh -W ($T/cpu.proxy). sshroute runs in
# inetd mode for that (systemd's LISTEN_PID would name time, not sshroute).
#
# Variables: CIPHER (the client's cipher for every variant; empty:
# OpenSSH's default, chacha20-poly1305), KEX (the client's KexAlgorithms;
# empty: OpenSSH's default), CLIENT_TIMEOUT (seconds, 300), BASE (a git
# revision: its sshroute, built in the work directory, is a fourth variant,
# "baseline", on its own gateway, for an A/B comparison in the same run).
#
# Reuses tests/lib.sh: real sshd on a random 127.x.y.0/24, the srt-* test
# users, PID-tracked cleanup on exit. Needs root.

. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
require_root
require_sshroute

# The work directory moves out of the test runs' /run/srt, whose runs clean
# up their own (lib.sh's EXIT trap removes $T, wherever it is); it stays in
# root's /run, because sshroute refuses key files below a directory that
# others may write to (/tmp and /var/tmp are mode 1777).
rmdir "$T" && T=$(mktemp -d /run/sshroute-bench.XXXXXX) || die "no work directory"
chmod 755 "$T"

# The benchmark's own processes (the servers, the clients and whatever they
# start) go into a cpuacct cgroup (v1) when the machine has one: their CPU
# time and their PIDs, apart from whatever else runs on the machine. On
# exit, after lib.sh's cleanup, the script leaves it and removes it.
CGROOT=/sys/fs/cgroup/cpuacct
CG=
if [ -w "$CGROOT/cgroup.procs" ] && mkdir "$CGROOT/sshroute-bench.$$" 2>/dev/null; then
	CG=$CGROOT/sshroute-bench.$$
	echo $$ >"$CG/cgroup.procs" || CG=
fi
bench_exit() {
	cleanup
	if [ -n "$CG" ]; then
		echo $$ >"$CGROOT/cgroup.procs"
		rmdir "$CG" 2>/dev/null || note "cgroup $CG not removed: $(cat "$CG/cgroup.procs" | tr '\n' ' ')"
	fi
}
trap bench_exit EXIT

# cg_usage: sets CG_NS to the CPU time of the benchmark's processes so far
# (nanoseconds; 0 without the cgroup).
cg_usage() {
	CG_NS=0
	[ -n "$CG" ] && read -r CG_NS <"$CG/cpuacct.usage"
}

CIPHER=${CIPHER-}
KEX=${KEX-}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-300}
USER_NAME=srt-alice
VARIANTS=(direct bastion sshroute)
BASE=${BASE-}
[ -n "$BASE" ] && VARIANTS+=(baseline)
TIMED=(/usr/bin/time -a -f '%U %S' -o)
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: time)"

say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- setup

ensure_users
pick_net
K=$T/keys
mkdir -p "$K" "$T/ak"
make_key "$K/client"      # the client's key, for every variant
make_key "$K/identity"    # sshroute's identity on the upstream
cp "$K/client.pub" "$T/ak/$USER_NAME"
chmod 644 "$T/ak/$USER_NAME"

# The upstream: keys only; room for CONC unauthenticated connections.
start_upstream_with up "${NET}11" 2022 "PubkeyAuthentication yes
$(upstream_keys_option up)
PasswordAuthentication no
MaxStartups 200:30:400"
add_upstream_key up "$USER_NAME" "$K/client.pub"
add_upstream_key up "$USER_NAME" "$K/identity.pub"
UP=${UP_ADDR[up]}
known_hosts_entry up >"$T/known_hosts"    # sshroute's
known_hosts_entry up >>"$T/client_known_hosts"

# The bastion: one sshd -i per connection, as sshroute is one process per
# connection.
B=$T/bastion
BASTION=${NET}2
mkdir -p "$B/ak"
chmod 755 "$B" "$B/ak"
ssh-keygen -q -t ed25519 -N '' -C bastion -f "$B/ssh_host_ed25519_key" || die "ssh-keygen for the bastion"
cp "$K/client.pub" "$B/ak/$USER_NAME"
chmod 644 "$B/ak/$USER_NAME"
cat >"$B/sshd_config" <<EOF
HostKey $B/ssh_host_ed25519_key
UsePAM no
PubkeyAuthentication yes
AuthorizedKeysFile $B/ak/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
AllowTcpForwarding yes
X11Forwarding no
PidFile none
EOF
systemd-socket-activate -l "$BASTION:2022" -a --inetd "${TIMED[@]}" "$T/cpu.bastion" "$SSHD" -i -e -f "$B/sshd_config" \
	</dev/null >>"$B/stdout" 2>>"$B/log" &
BASTION_PID=$!
track_pid "$BASTION_PID"
wait_listening "$BASTION" 2022 "$BASTION_PID" || die "bastion on $BASTION:2022: $(tail -n 5 "$B/log")"
echo "[$BASTION]:2022 $(cut -d' ' -f1-2 "$B/ssh_host_ed25519_key.pub")" >>"$T/client_known_hosts"

# sshroute: one route, the client's key mapped onto sshroute's identity.
make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/identity
log_level = error

[route $USER_NAME]
upstream = $UP:2022
authorized_keys = $T/ak/$USER_NAME
auth = publickey
EOF
"$SSHROUTE" -t -f "$T/route.ini" >/dev/null || die "route.ini does not check"

# start_private_gateway NAME ADDR PORT INI BINARY: start_gateway
# (tests/lib.sh) in inetd mode, under time (CPU seconds in $T/cpu.NAME),
# in a mount namespace of its own whose /tmp, /var/tmp and /dev/shm are
# empty tmpfs (as PrivateTmp= gives the systemd unit), and /run too (the
# unit cannot write there: ProtectSystem=strict), with only the work
# directory $T bound back: any file sshroute leaves there shows up with
# `nsenter -t $GWPID -m`, and nothing that other programs write to the
# machine's /run (an upstream's /run/motd.dynamic) counts. The binary runs
# from $T, since a checkout under /tmp is hidden there.
start_private_gateway() {
	local name=$1 addr=$2 port=$3 ini=$4 binary=$T/sshroute-$1 pid log=$T/gw-$1.log
	cp "$5" "$binary" || die "cannot copy $5 to $binary"
	# shellcheck disable=SC2016
	unshare --mount --propagation private sh -c '
		exec 7<"$1" &&
		mount -t tmpfs -o mode=1777 bench-tmp /tmp &&
		mount -t tmpfs -o mode=1777 bench-var-tmp /var/tmp &&
		mount -t tmpfs -o mode=1777 bench-shm /dev/shm &&
		mount -t tmpfs -o mode=755 bench-run /run &&
		mkdir -p "$1" && mount --no-canonicalize --bind /proc/self/fd/7 "$1" || exit 1
		exec 7<&-
		shift
		exec "$@"' sh "$T" \
		systemd-socket-activate -l "$addr:$port" -a --inetd "${TIMED[@]}" "$T/cpu.$name" \
		"$binary" -e -v -f "$ini" \
		</dev/null >>"$T/gw-$name.stdout" 2>>"$log" &
	pid=$!
	track_pid "$pid"
	wait_listening "$addr" "$port" "$pid" || die "gateway $name on $addr:$port: $(tail -n 5 "$log")"
	GW_ADDR[$name]=$addr GW_PORT[$name]=$port GW_PID[$name]=$pid GW_LOG[$name]=$log
	echo "$(host_pattern "$addr" "$port") $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"
}
start_private_gateway sshroute "${NET}1" 2222 "$T/route.ini" "$SSHROUTE"
GW=${GW_ADDR[sshroute]}
GWPID=${GW_PID[sshroute]}

# The baseline: BASE's sshroute, built from git's copy of that revision.
if [ -n "$BASE" ]; then
	mkdir "$T/base"
	git -C "$SRT_ROOT" archive "$BASE" | tar -x -C "$T/base" || die "git archive $BASE"
	make -s -C "$T/base" sshroute >"$T/base/make.log" 2>&1 || die "building $BASE: $(tail -n 5 "$T/base/make.log")"
	BASE_DESC=$(git -C "$SRT_ROOT" describe --always "$BASE")
	start_private_gateway baseline "${NET}3" 2222 "$T/route.ini" "$T/base/sshroute"
fi

# The client: OpenSSH, nothing from ~/.ssh or /etc/ssh, the one key.
CLIENT=(-F /dev/null
	-o UserKnownHostsFile="$T/client_known_hosts" -o GlobalKnownHostsFile=/dev/null
	-o StrictHostKeyChecking=yes -o UpdateHostKeys=no
	-o IdentityAgent=none -o IdentitiesOnly=yes -o IdentityFile="$K/client"
	-o PubkeyAuthentication=yes -o PasswordAuthentication=no
	-o KbdInteractiveAuthentication=no -o HostbasedAuthentication=no
	-o GSSAPIAuthentication=no -o BatchMode=yes
	-o ControlMaster=no -o ControlPath=none -o RequestTTY=no
	-o ForwardAgent=no -o ForwardX11=no
	-o LogLevel=ERROR -o ConnectTimeout=30)
[ -n "$CIPHER" ] && CLIENT+=(-c "$CIPHER")
[ -n "$KEX" ] && CLIENT+=(-o KexAlgorithms="$KEX")
# (ssh expands % in a ProxyCommand: time's format gets %%; and it sends
# its ProxyCommand SIGHUP when done, which would end time unwritten, so
# that nohup ignores: ssh -W ends at EOF anyway)
PROXY="nohup /usr/bin/time -a -f '%%U %%S' -o $T/cpu.proxy ssh $(printf '%q ' "${CLIENT[@]}")-l $USER_NAME -p 2022 -W %h:%p $BASTION"

# on VARIANT [SSH OPTION...] COMMAND: runs COMMAND as the test user on the
# upstream, by way of VARIANT.
on() {
	local v=$1 remote=${!#}
	local -a dest
	case $v in
	direct) dest=(-p 2022 "$UP") ;;
	bastion) dest=(-o "ProxyCommand=$PROXY" -p 2022 "$UP") ;;
	sshroute) dest=(-p 2222 "$GW") ;;
	baseline) dest=(-p 2222 "${GW_ADDR[baseline]}") ;;
	esac
	timeout -k 5 "$CLIENT_TIMEOUT" ssh "${CLIENT[@]}" "${@:2:$#-2}" -l "$USER_NAME" "${dest[@]}" "$remote"
}
