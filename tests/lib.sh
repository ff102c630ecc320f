# tests/lib.sh: helpers shared by the end-to-end tests (tests/t-*.sh) and
# tests/demo.sh. Source it; it sets `set -u`, makes a private work directory
# ($T) and an EXIT trap that kills, by PID, every process the script started.
#
# Everything here is real: upstreams are OpenSSH sshd processes, each in its
# own UTS namespace with its own host name, on loopback addresses picked at
# random per run; sshroute runs under systemd-socket-activate; the client is
# OpenSSH ssh/scp/sftp with the password coming from tests/askpass.

set -u

SRT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SSHROUTE=${SSHROUTE:-$SRT_ROOT/sshroute}
ASKPASS=$SRT_ROOT/tests/askpass
SSHD=/usr/sbin/sshd

# "-o GSSAPIAuthentication=no" where this ssh has GSSAPI: one built without
# it (Debian unstable's OpenSSH 10.6) calls the option unsupported, on
# stderr, at every run.
GSSAPI_OFF=(-o GSSAPIAuthentication=no)
ssh -F /dev/null -G "${GSSAPI_OFF[@]}" localhost 2>&1 | grep -q 'Unsupported option' && GSSAPI_OFF=()

# Upper bound, in seconds, for any single client command.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-60}

# Set (to the sanitizer's name) by tests/check-asan.sh, when $SSHROUTE is
# built with AddressSanitizer: its allocator and shadow memory make
# sshroute's resident size say nothing about sshroute (memory_check_applies).
SRT_SANITIZER=${SRT_SANITIZER-}

# Test users. They are created on first use and kept (removing accounts while
# another run may use them is riskier than leaving them); the passwords are
# fixed so that concurrent runs agree, and distinctive so that a grep for
# them in a log cannot match anything else.
declare -A PASSWORD=(
	[srt-alice]='Srt.alice-pw.4711'
	[srt-bob]='Srt.bob-pw.0815'
	[srt-carol]='Srt.carol-pw.2342'
	[srt-team-red]='Srt.red-pw.1312'
	[srt-team-blue]='Srt.blue-pw.6502'
)
WRONG_PASSWORD='Srt.wrong-pw.9999'

# ---------------------------------------------------------------- results

N_OK=0
N_NOT_OK=0

ok() {
	N_OK=$((N_OK + 1))
	echo "ok - $1"
}

# not_ok NAME DETAIL: DETAIL is folded onto the one result line.
not_ok() {
	N_NOT_OK=$((N_NOT_OK + 1))
	echo "not ok - $1: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-400)"
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}

# expect_match NAME EXTENDED_REGEX TEXT
expect_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected /$2/ in '$3'"; fi
}

# expect_contains NAME TEXT FIXED_STRING: TEXT holds FIXED_STRING (which
# may span lines).
expect_contains() {
	if [[ "$2" == *"$3"* ]]; then ok "$1"; else not_ok "$1" "expected '$3' in '$2'"; fi
}

# memory_check_applies NAME: true when sshroute's resident memory can be
# checked against a limit. Under a sanitizer it cannot: NAME then passes
# as skipped ("ok - NAME # SKIP ..."), and the caller measures nothing.
memory_check_applies() {
	[ -z "$SRT_SANITIZER" ] && return 0
	ok "$1 # SKIP no memory limit under $SRT_SANITIZER"
	return 1
}

# note TEXT...: diagnostic lines, marked so that tests/run does not count them.
note() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# finish: the last call of every test script.
finish() {
	if [ "$N_OK" -eq 0 ] && [ "$N_NOT_OK" -eq 0 ]; then
		not_ok "$(basename "$0")" "no test case ran"
	fi
	[ "$N_NOT_OK" -eq 0 ]
	exit
}

# die MESSAGE: setup failed; report it as a failed case and stop the script.
die() {
	not_ok "setup" "$1"
	exit 1
}

# ---------------------------------------------------------------- processes

PIDS=()

# start_time PID: the process's start time (field 22 of /proc/PID/stat),
# which tells a process from a later one that got the same PID.
start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }  # the command name may hold spaces; skip past it
	echo "$stat" | cut -d' ' -f20
}

# track_pid PID: the process is killed (with what it started) on exit.
track_pid() {
	PIDS+=("$1:$(start_time "$1")")
}

# descendants PID: every process below PID, deepest first.
descendants() {
	local child
	for child in $(pgrep -P "$1" 2>/dev/null); do
		descendants "$child"
		echo "$child"
	done
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ "${state:0:1}" != Z ]
}

# wait_gone DEADLINE_SECONDS PID...: true when all PIDs are gone in time.
wait_gone() {
	local deadline=$((SECONDS + $1)) pid left
	shift
	while :; do
		left=0
		for pid in "$@"; do
			alive "$pid" && left=1
		done
		[ "$left" = 0 ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# expect_gone NAME SECONDS PID...: a case passing when the processes all end
# within SECONDS (and failing when there is nothing to watch).
expect_gone() {
	local name=$1 secs=$2 left
	shift 2
	if [ $# = 0 ]; then
		not_ok "$name" "no process to watch"
	elif wait_gone "$secs" "$@"; then
		ok "$name"
	else
		left=$(ps -o pid=,args= -p "$(echo "$@" | tr ' ' ,)" | sed 's/  */ /g' | tr '\n' ';')
		not_ok "$name" "still running after $secs s: $left"
	fi
}

# kill_tree PID: the process and everything it started, by PID.
kill_tree() {
	local all
	all=$(descendants "$1"; echo "$1")
	# shellcheck disable=SC2086
	kill -TERM $all 2>/dev/null
	# shellcheck disable=SC2086
	wait_gone 5 $all || kill -KILL $all 2>/dev/null
}

cleanup() {
	local entry pid
	for entry in "${PIDS[@]}"; do
		pid=${entry%%:*}
		# Only when it is still the process that was tracked.
		[ "$(start_time "$pid")" = "${entry#*:}" ] && kill_tree "$pid"
	done
	if [ -n "${T-}" ] && [ -d "$T" ]; then
		if [ "${SRT_KEEP-0}" = 1 ]; then
			note "work directory kept: $T"
		else
			rm -rf "$T"
		fi
	fi
	if [ -n "${RUN_ID-}" ]; then
		rm -f /home/srt-*/"srt-$RUN_ID"-* 2>/dev/null
	fi
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Work directory, readable by the test users (they read test data from it).
# Not under /tmp: sshroute, like sshd with StrictModes, trusts no key file
# below a directory that others may write to. /run/srt is root's, mode 755.
mkdir -p /run/srt && chown root:root /run/srt && chmod 755 /run/srt || exit 1
T=$(mktemp -d /run/srt/srt.XXXXXX) || exit 1
chmod 755 "$T"
RUN_ID=${T##*.}

# ---------------------------------------------------------------- setup

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$(basename "$0"): needs root (it starts sshd and adds test users)" >&2
		exit 1
	fi
}

require_sshroute() {
	[ -x "$SSHROUTE" ] || die "$SSHROUTE is not built (run make)"
}

# libssh_at_least MAJOR.MINOR: true when sshroute runs on that libssh or a
# later one (from sshroute -V), for the few behaviours that differ.
libssh_at_least() {
	local have
	have=$("$SSHROUTE" -V | sed -n 's/^libssh \([0-9]*\.[0-9]*\).*/\1/p')
	[ -n "$have" ] && [ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n 1)" = "$1" ]
}

# ensure_users: create the test users (idempotent) and set their passwords.
# A concurrent run may hold the password file lock for a moment: retry.
ensure_users() {
	local u try
	for u in "${!PASSWORD[@]}"; do
		id -u "$u" >/dev/null 2>&1 && continue
		for try in 1 2 3 4 5; do
			useradd -m -s /bin/bash "$u" 2>/dev/null || id -u "$u" >/dev/null 2>&1 && break
			sleep 1
		done
		id -u "$u" >/dev/null 2>&1 || die "useradd $u failed"
	done
	for try in 1 2 3 4 5; do
		for u in "${!PASSWORD[@]}"; do
			printf '%s:%s\n' "$u" "${PASSWORD[$u]}"
		done | chpasswd 2>/dev/null && return 0
		sleep 1
	done
	die "chpasswd failed"
}

# listening ADDR PORT: true when something listens on ADDR:PORT or on a
# wildcard address with that port (which would make binding ADDR:PORT fail).
listening() {
	ss -ltnH 2>/dev/null | awk -v a="$1:$2" -v p=":$2" '
		$4 == a || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p { found = 1 }
		END { exit !found }'
}

# pick_net: sets NET to a random "127.R1.R2." prefix that nothing listens on,
# so that concurrent runs and leftovers of old runs never collide.
pick_net() {
	local try r1 r2
	for try in $(seq 50); do
		r1=$((RANDOM % 250 + 2))
		r2=$((RANDOM % 250 + 2))
		if ! ss -ltnH 2>/dev/null | awk '{print $4}' | grep -q "^127\.$r1\.$r2\."; then
			NET="127.$r1.$r2."
			return 0
		fi
	done
	die "no free 127.x.y.0/24 found"
}

# free_port ADDR PREFERRED...: the first of the given ports free on ADDR.
free_port() {
	local addr=$1 port
	shift
	for port in "$@" $(seq 20000 20100); do
		listening "$addr" "$port" || { echo "$port"; return 0; }
	done
	return 1
}

# wait_listening ADDR PORT PID: bounded wait until PID listens on ADDR:PORT.
wait_listening() {
	local deadline=$((SECONDS + 10))
	until ss -ltnH 2>/dev/null | awk -v a="$1:$2" '$4 == a { f = 1 } END { exit !f }'; do
		kill -0 "$3" 2>/dev/null || return 1
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

declare -A UP_ADDR UP_PORT UP_PID UP_DIR

# start_upstream NAME ADDR PORT: a real sshd as host "host-NAME" on ADDR:PORT
# (start_upstream_with, further down, without extra sshd_config lines).
start_upstream() {
	start_upstream_with "$1" "$2" "$3" ""
}

# host_pattern HOST PORT: how known_hosts names HOST:PORT.
host_pattern() {
	if [ "$2" = 22 ]; then echo "$1"; else echo "[$1]:$2"; fi
}

# known_hosts_entry NAME [HOSTNAME]: the known_hosts line for upstream NAME,
# under its address or under HOSTNAME.
known_hosts_entry() {
	local host=${2:-${UP_ADDR[$1]}}
	echo "$(host_pattern "$host" "${UP_PORT[$1]}") $(cut -d' ' -f1-2 "${UP_DIR[$1]}/ssh_host_ed25519_key.pub")"
}

# make_gateway_key: sshroute's host key, $GW_KEY (private, mode 600).
make_gateway_key() {
	GW_KEY=$T/gw_ed25519_key
	[ -f "$GW_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C sshroute -f "$GW_KEY" || die "ssh-keygen for sshroute"
	chmod 600 "$GW_KEY"
}

declare -A GW_ADDR GW_PORT GW_PID GW_LOG

# start_gateway NAME ADDR PORT INI MODE [HOSTS_FILE]: sshroute behind
# systemd-socket-activate on ADDR:PORT. MODE is "fd3" or "inetd". With
# HOSTS_FILE, sshroute runs in its own mount namespace where that file is
# /etc/hosts, so that routes can name upstreams by host name (for %u).
start_gateway() {
	local name=$1 addr=$2 port=$3 ini=$4 mode=$5 hosts=${6-} pid
	local log=$T/gw-$name.log out=$T/gw-$name.stdout
	local -a cmd=(systemd-socket-activate -l "$addr:$port" -a)
	[ "$mode" = inetd ] && cmd+=(--inetd)
	cmd+=("$SSHROUTE" -e -v -f "$ini")
	if [ -n "$hosts" ]; then
		unshare --mount sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "${cmd[@]}" \
			</dev/null >>"$out" 2>>"$log" &
	else
		"${cmd[@]}" </dev/null >>"$out" 2>>"$log" &
	fi
	pid=$!
	track_pid "$pid"
	if ! wait_listening "$addr" "$port" "$pid"; then
		note "systemd-socket-activate for $name did not come up:" "$(tail -n 5 "$log")"
		die "gateway $name on $addr:$port"
	fi
	GW_ADDR[$name]=$addr GW_PORT[$name]=$port GW_PID[$name]=$pid GW_LOG[$name]=$log
	echo "$(host_pattern "$addr" "$port") $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"
}

# gateway_children NAME: PIDs of the sshroute processes serving gateway NAME.
gateway_children() {
	local pid=${GW_PID[$1]} child
	# With a hosts file the listener is sh -> systemd-socket-activate (exec'd,
	# same PID); either way the connection processes are its children.
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		alive "$child" && echo "$child"
	done
}

# wait_no_children NAME SECONDS: true when gateway NAME serves nothing any more.
wait_no_children() {
	local deadline=$((SECONDS + $2))
	while [ -n "$(gateway_children "$1")" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# one_upstream_gateway MODE [SERVER_LINES [MORE_ROUTES]]: the setup of the
# tests with one upstream and one gateway. Upstream "alice" (start_upstream)
# on ${NET}11:2022, its key in $T/known_hosts; $T/route.ini routes srt-alice
# there, with the lines SERVER_LINES added to [server] and the sections
# MORE_ROUTES after srt-alice's; gateway "gw" on ${NET}1:2222 in MODE, "fd3"
# or "inetd" (start_gateway). $UP_MAX_SESSIONS and $UP_MAX_STARTUPS, set
# for the call, reach the upstream's sshd_config (start_upstream_with).
one_upstream_gateway() {
	start_upstream alice "${NET}11" 2022
	known_hosts_entry alice >"$T/known_hosts"
	make_gateway_key
	{
		printf '%s\n' "[server]" "host_key = $GW_KEY" "known_hosts = $T/known_hosts"
		[ -z "${2-}" ] || printf '%s\n' "$2"
		printf '%s\n' "" "[route srt-alice]" "upstream = ${NET}11:2022"
		[ -z "${3-}" ] || printf '\n%s\n' "$3"
	} >"$T/route.ini"
	start_gateway gw "${NET}1" 2222 "$T/route.ini" "$1"
}

# ---------------------------------------------------------------- clients

# Options that make ssh ignore ~/.ssh and /etc/ssh entirely and use only a
# password from tests/askpass. BatchMode stays off: it would disable askpass.
# $1: the known_hosts file (default: the one holding the gateways' key).
client_opts() {
	CLIENT_OPTS=(-F /dev/null
		-o UserKnownHostsFile="${1:-$T/client_known_hosts}"
		-o GlobalKnownHostsFile=/dev/null
		-o StrictHostKeyChecking=yes
		-o PubkeyAuthentication=no
		-o HostbasedAuthentication=no
		"${GSSAPI_OFF[@]}"
		-o KbdInteractiveAuthentication=no
		-o PreferredAuthentications=password
		-o NumberOfPasswordPrompts="${PROMPTS:-1}"
		-o LogLevel="${LOGLEVEL:-ERROR}"
		-o ConnectTimeout=10)
}

# with_password PASSWORD CMD...: runs CMD (bounded by CLIENT_TIMEOUT) with
# tests/askpass answering PASSWORD.
with_password() {
	local pw=$1
	shift
	SRT_PASSWORD=$pw SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout -k 5 "$CLIENT_TIMEOUT" "$@"
}

# gw_ssh GW USER [SSH ARGS...]: ssh through gateway GW as USER with USER's
# password (or $PW when set; $PROMPTS sets how many times ssh asks, and
# $LOGLEVEL ssh's LogLevel).
gw_ssh() {
	local gw=$1 user=$2
	shift 2
	client_opts
	with_password "${PW-${PASSWORD[$user]-}}" \
		ssh "${CLIENT_OPTS[@]}" -p "${GW_PORT[$gw]}" -l "$user" "${GW_ADDR[$gw]}" "$@"
}

# up_ssh UPSTREAM USER [SSH ARGS...]: ssh straight to an upstream, no sshroute.
up_ssh() {
	local up=$1 user=$2
	shift 2
	client_opts "$T/upstream_known_hosts"
	with_password "${PW-${PASSWORD[$user]-}}" \
		ssh "${CLIENT_OPTS[@]}" \
		-p "${UP_PORT[$up]}" -l "$user" "${UP_ADDR[$up]}" "$@"
}

# gw_scp GW USER [SCP ARGS...]: scp through GW; "@:" in an argument stands
# for "USER@ADDR:".
gw_scp() {
	local gw=$1 user=$2 arg
	local -a args=()
	shift 2
	for arg in "$@"; do
		args+=("${arg/#@:/$user@${GW_ADDR[$gw]}:}")
	done
	client_opts
	with_password "${PASSWORD[$user]}" scp "${CLIENT_OPTS[@]}" -P "${GW_PORT[$gw]}" "${args[@]}"
}

# gw_sftp GW USER BATCHFILE: sftp -b through GW. sftp -b adds
# "-o BatchMode yes" (no password prompts at all); ssh keeps the first value
# of an option, so the explicit BatchMode=no before -b wins.
gw_sftp() {
	client_opts
	with_password "${PASSWORD[$2]}" sftp "${CLIENT_OPTS[@]}" -o BatchMode=no \
		-P "${GW_PORT[$1]}" -b "$3" "$2@${GW_ADDR[$1]}"
}

# write_upstream_known_hosts NAME...: known_hosts for direct client access.
write_upstream_known_hosts() {
	local n
	for n in "$@"; do known_hosts_entry "$n"; done >>"$T/upstream_known_hosts"
}

# tmux_ssh GW USER: an interactive ssh -tt through gateway GW as USER in a
# detached tmux session "srt" (100x30, TERM screen) on $TMUX_SOCK; tm runs
# tmux commands there. ssh's exit status goes to $T/pty.status: tmux's own
# record of it (#{pane_dead_status}) is sometimes never filled in for a
# pane whose process has exited.
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
tmux_ssh() {
	local ssh_cmd tmux_pid
	client_opts
	printf -v ssh_cmd '%q ' env SRT_PASSWORD="${PASSWORD[$2]}" SSH_ASKPASS="$ASKPASS" \
		SSH_ASKPASS_REQUIRE=force ssh "${CLIENT_OPTS[@]}" -tt -p "${GW_PORT[$1]}" "$2@${GW_ADDR[$1]}"
	printf 'set -g status off\nset -g remain-on-exit on\nset -g default-terminal screen\n' >"$T/tmux.conf"
	SHELL=/bin/bash tm -f "$T/tmux.conf" new-session -d -s srt -x 100 -y 30 \
		"$ssh_cmd; echo \$? >$T/pty.status"
	tmux_pid=$(tm display-message -p '#{pid}')
	[ -n "$tmux_pid" ] && track_pid "$tmux_pid"
}

# ---------------------------------------------------------------- logs

# check_no_passwords NAME LOGFILE...: no test password appears in the logs.
check_no_passwords() {
	local name=$1 pw found= file
	shift
	for file in "$@"; do
		if [ ! -r "$file" ]; then
			not_ok "$name" "no log to look in: $file"
			return
		fi
	done
	for pw in "${PASSWORD[@]}" "$WRONG_PASSWORD"; do
		if grep -qF -- "$pw" "$@"; then found="$found $pw"; fi
	done
	if [ -z "$found" ]; then ok "$name"; else not_ok "$name" "password(s) in the log:$found"; fi
}

# show_log GW [LINES]: the end of a gateway's log, as diagnostics.
show_log() {
	note "--- last lines of the sshroute log for gateway $1:" "$(tail -n "${2:-15}" "${GW_LOG[$1]}")"
}

# check_no_leftovers NAME GW...: after all sessions ended, no sshroute
# process is left under the gateways' systemd-socket-activate.
check_no_leftovers() {
	local name=$1 gw left=
	shift
	for gw in "$@"; do
		wait_no_children "$gw" 10 || left="$left $gw:$(gateway_children "$gw" | tr '\n' ' ')"
	done
	if [ -z "$left" ]; then ok "$name"; else not_ok "$name" "sshroute processes still running:$left"; fi
}

# ---------------------------------------------------------------- authentication (issue 3)
#
# Upstreams with other sshd settings, public-key and keyboard-interactive
# clients. Used by tests/t-auth-*.sh.

# start_upstream_with NAME ADDR PORT CONFIG: like start_upstream, with the
# sshd_config lines CONFIG before the usual ones. sshd keeps the first value
# it reads for a keyword, so CONFIG overrides them (e.g. "UsePAM yes").
# With "PubkeyAuthentication yes" in CONFIG, add "$(upstream_keys_option NAME)"
# too: user USER's authorized keys are then $UP_DIR/authorized_keys/USER
# (add_upstream_key). MaxStartups is the one keyword where sshd keeps the
# last value; $UP_MAX_STARTUPS and $UP_MAX_SESSIONS set the limits for
# many connections at once (t-load.sh).
start_upstream_with() {
	local name=$1 addr=$2 port=$3 extra=$4 dir=$T/up-$1 pid
	mkdir -p "$dir/authorized_keys" /run/sshd
	chmod 755 /run/sshd "$dir" "$dir/authorized_keys"
	ssh-keygen -q -t ed25519 -N '' -C "host-$name" -f "$dir/ssh_host_ed25519_key" || die "ssh-keygen for $name"
	{
		printf '%s\n' "$extra"
		cat <<-EOF2
			ListenAddress $addr:$port
			HostKey $dir/ssh_host_ed25519_key
			PidFile $dir/sshd.pid
			UsePAM no
			PasswordAuthentication yes
			KbdInteractiveAuthentication no
			PubkeyAuthentication no
			AuthorizedKeysFile none
			PermitRootLogin no
			StrictModes no
			PrintMotd no
			PrintLastLog no
			UseDNS no
			X11Forwarding no
			AcceptEnv SRT_*
			MaxSessions ${UP_MAX_SESSIONS:-20}
			MaxStartups ${UP_MAX_STARTUPS:-50:30:100}
			Subsystem sftp internal-sftp
		EOF2
	} >"$dir/sshd_config"
	unshare --uts sh -c "hostname host-$name && exec $SSHD -D -e -f $dir/sshd_config" \
		</dev/null >>"$dir/sshd.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! wait_listening "$addr" "$port" "$pid"; then
		note "sshd for $name did not come up:" "$(tail -n 5 "$dir/sshd.log")"
		die "upstream $name on $addr:$port"
	fi
	UP_ADDR[$name]=$addr UP_PORT[$name]=$port UP_PID[$name]=$pid UP_DIR[$name]=$dir
}

# upstream_keys_option NAME: the AuthorizedKeysFile line for upstream NAME.
upstream_keys_option() {
	echo "AuthorizedKeysFile $T/up-$1/authorized_keys/%u"
}

# add_upstream_key NAME USER PUBKEY_FILE: USER on upstream NAME accepts the key.
add_upstream_key() {
	cat "$3" >>"$T/up-$1/authorized_keys/$2" || die "add_upstream_key $*"
	chmod 644 "$T/up-$1/authorized_keys/$2"
}

# make_key FILE [TYPE [BITS]]: a new key pair without passphrase (FILE and
# FILE.pub, private part mode 600); TYPE defaults to ed25519.
make_key() {
	local -a bits=()
	[ -n "${3-}" ] && bits=(-b "$3")
	rm -f "$1" "$1.pub"
	ssh-keygen -q -t "${2:-ed25519}" "${bits[@]}" -N '' -C "srt-$(basename "$1")" -f "$1" ||
		die "ssh-keygen $1"
	chmod 600 "$1"
}

# gw_ssh_auth GW USER [SSH ARGS...]: ssh through gateway GW as USER, with no
# authentication method chosen (the caller's -o options choose; ssh keeps
# the first value of an option). Prompts, password or keyboard-interactive,
# go to tests/kbdint_askpass: $SRT_PASSWORD (or $SRT_PASSWORD_FILE) answers
# "...assword...", $SRT_CODE "...ode..."; every prompt is appended to
# $SRT_PROMPT_LOG. The remote command is $SRT_CMD, by default hostname.
gw_ssh_auth() {
	local gw=$1 user=$2
	shift 2
	SSH_ASKPASS=$SRT_ROOT/tests/kbdint_askpass SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout -k 5 "$CLIENT_TIMEOUT" ssh -F /dev/null \
		-o UserKnownHostsFile="$T/client_known_hosts" \
		-o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes \
		-o IdentityAgent=none \
		-o IdentitiesOnly=yes \
		-o HostbasedAuthentication=no \
		"${GSSAPI_OFF[@]}" \
		-o NumberOfPasswordPrompts="${PROMPTS:-1}" \
		-o LogLevel="${LOGLEVEL:-ERROR}" \
		-o ConnectTimeout=10 \
		"$@" -p "${GW_PORT[$gw]}" -l "$user" "${GW_ADDR[$gw]}" "${SRT_CMD:-hostname}"
}

# gw_key_ssh GW USER KEY [SSH ARGS...]: public key KEY only, BatchMode.
gw_key_ssh() {
	local gw=$1 user=$2 key=$3
	shift 3
	gw_ssh_auth "$gw" "$user" -i "$key" -o PubkeyAuthentication=yes \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
		-o BatchMode=yes "$@"
}

# key_login CASE USER KEY EXPECTED [SSH ARGS...]: through gateway "gw", the
# key logs in and the# session lands on EXPECTED ("host user").
key_login() {
	local name=$1 user=$2 key=$3 want=$4 out rc
	shift 4
	# shellcheck disable=SC2016
	out=$(SRT_CMD='echo "$(hostname) $(whoami)"' gw_key_ssh gw "$user" "$key" "$@" </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# key_refused_upstream CASE USER KEY: through gateway "gw", the upstream
# refuses sshroute's key (its identity or certificate), and the client is
# told so.
key_refused_upstream() {
	local out rc
	out=$(LOGLEVEL=INFO gw_key_ssh gw "$2" "$3" </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 255 ] && [ -z "$out" ] && grep -qF "refused sshroute's key" "$T/err"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# gw_kbdint_ssh GW USER [SSH ARGS...]: keyboard-interactive only.
gw_kbdint_ssh() {
	local gw=$1 user=$2
	shift 2
	gw_ssh_auth "$gw" "$user" -o PubkeyAuthentication=no -o PasswordAuthentication=no \
		-o KbdInteractiveAuthentication=yes \
		-o PreferredAuthentications=keyboard-interactive "$@"
}

# auth_lists TEXT: the method lists of ssh -v's "Authentications that can
# continue:" lines, one per line.
auth_lists() {
	printf '%s\n' "$1" | sed -n 's/.*Authentications that can continue: *//p' | tr -d '\r'
}

# log_line SECONDS FILE FIXED_STRING...: waits up to SECONDS for a line of
# FILE holding every string; prints the last such line (false when none).
log_line() {
	local deadline=$((SECONDS + $1)) file=$2 lines word
	shift 2
	while :; do
		lines=$(cat "$file" 2>/dev/null)
		for word in "$@"; do
			lines=$(printf '%s\n' "$lines" | grep -F -- "$word")
		done
		[ -n "$lines" ] && { printf '%s\n' "$lines" | tail -n 1; return 0; }
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# man_block MANPAGE MARK: the literal block that follows the comment line
# '.\" MARK' in MANPAGE (man/*.[58]), with the roff escapes undone: the
# units that a man page carries verbatim, and its examples, which tests
# then run as they are printed.
man_block() {
	awk -v mark=".\\\\\" $2" '
		$0 == mark { want = 1; next }
		want == 1 && /^\.Bd -literal/ { want = 2; next }
		want == 2 && /^\.Ed$/ { exit }
		want == 2 { print }
	' "$1" | sed -e 's/^\\&//' -e 's/\\e/\\/g'
}

# check_log_line NAME LOGFILE WORD...: some line of LOGFILE holds every WORD
# (fixed strings, case-insensitive).
check_log_line() {
	local name=$1 log=$2 lines word
	shift 2
	lines=$(cat "$log" 2>/dev/null)
	for word in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -iF -- "$word")
	done
	if [ -n "$lines" ]; then ok "$name"; else not_ok "$name" "no line with: $* in $log"; fi
}

# readme_block HEADING N: the Nth indented code block of the "## HEADING"
# section of README.md, its indentation removed: the steps that the README
# prints, which tests then run as they are printed.
readme_block() {
	awk -v head="## $1" -v n="$2" '
		/^## / { in_section = ($0 == head); in_block = 0; next }
		!in_section { next }
		/^$/ { if (in_block) blanks++; next }
		/^    / {
			if (!in_block) { count++; in_block = 1; blanks = 0 }
			if (count == n) { for (; blanks > 0; blanks--) print ""; print substr($0, 5) }
			blanks = 0
			next
		}
		{ in_block = 0 }
	' "$SRT_ROOT/README.md"
}
