#!/bin/bash
# Forwarding through sshroute (issue 4), with the real OpenSSH client and
# real sshd upstreams: -L with data both ways, -D with curl as the SOCKS
# client, -W (the target's banner), ssh -J and ProxyCommand ssh -W to a
# second upstream, -R with a fixed port and with port 0 (and its cancel),
# agent forwarding with a fresh ssh-agent, X11 with a fake X server,
# keepalives in both directions, no-more-sessions, refusals by the upstream's policy and by
# sshroute (unsupported streamlocal), one ControlMaster connection carrying
# a shell, tunnels and a transfer while other tunnels are stalled, and
# channel opens that the far end answers late (a target that does not
# answer) while other channels go on.
#
# The TCP services are a small Python program (tests/helpers/forward_services.py)
# on this run's random loopback addresses. Upstreams share this machine's
# network and file system, so they reach the same services and files.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing"
command -v curl >/dev/null || die "curl is missing"

# Addresses: gateway .1, client-side binds .2 and .3, upstreams .11-.15,
# services on the upstream side .20, .22, .23, on the client side .21, the
# fake X server .24.
GW=${NET}1
LOCAL=${NET}2
LOCAL2=${NET}3

# ---------------------------------------------------------------- tool

# a copy in $T: the test users run it on the upstream too, and may not be
# able to read the checkout
cp "$SRT_ROOT/tests/helpers/forward_services.py" "$T/fwd.py"
chmod 644 "$T/fwd.py"
FWD=("$PY" "$T/fwd.py")

# service KIND ADDR PORT [ARGS...]: a background fwd.py service, up and
# listening when this returns.
service() {
	local pid
	"${FWD[@]}" serve "$@" </dev/null >>"$T/services.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "$2" "$3" "$pid" || die "service $1 on $2:$3"
}

# data NAME MIB: a file of random bytes, readable by the test users; sets
# SUM[NAME] to "BYTES SHA256", as fwd.py prints it.
declare -A SUM
data() {
	head -c "$2M" /dev/urandom >"$T/$1"
	chmod 644 "$T/$1"
	SUM[$1]="$(stat -c %s "$T/$1") $(sha256sum <"$T/$1" | cut -d' ' -f1)"
}

# expect_contains NAME STRING TEXT: TEXT holds STRING (a fixed string).
expect_contains() {
	case "$3" in
	*"$2"*) ok "$1" ;;
	*) not_ok "$1" "expected '$2' in '$3'" ;;
	esac
}

# elapsed START: seconds since START (an $EPOCHREALTIME), one decimal.
elapsed() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# faster NAME LIMIT SECONDS: a case passing when SECONDS < LIMIT.
faster() {
	if awk -v s="$3" -v l="$2" 'BEGIN { exit !(s < l) }'; then
		ok "$1 (${3}s)"
	else
		not_ok "$1" "took ${3}s, limit ${2}s"
	fi
}

# wait_flag_cmd NAME: a remote shell snippet waiting (10 s at most) until
# $T/NAME exists, so that a session stays open while the test probes.
wait_flag_cmd() {
	echo "i=0; while [ ! -e $T/$1 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done"
}

# peak_kib: the largest peak resident size (VmHWM) among the gateway's
# sshroute processes, in KiB.
peak_kib() {
	local pid kib max=0
	for pid in $(gateway_children gw); do
		kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[ -n "$kib" ] && [ "$kib" -gt "$max" ] && max=$kib
	done
	echo "$max"
}

# expect_below NAME KIB LIMIT_KIB
expect_below() {
	memory_check_applies "$1" || return 0
	if [ "$2" -gt 0 ] && [ "$2" -lt "$3" ]; then
		ok "$1 ($2 KiB)"
	else
		not_ok "$1" "sshroute peak memory $2 KiB, limit $3 KiB (0: no process found)"
	fi
}

# ---------------------------------------------------------------- setup

# alice: forwarding allowed (remote binds on the address the client names),
# X11 on. second: only a target behind the upstreams, no route to it.
# noforward: AllowTcpForwarding no. permit: only tunnels to second's sshd.
# alive: ClientAliveInterval 1, so that the upstream probes the client.
start_upstream_with alice "${NET}11" 2022 "GatewayPorts clientspecified
X11Forwarding yes"
start_upstream second "${NET}12" 2022
start_upstream_with noforward "${NET}13" 2022 "AllowTcpForwarding no"
start_upstream_with permit "${NET}14" 2022 "PermitOpen ${NET}12:2022"
start_upstream_with alive "${NET}15" 2022 "ClientAliveInterval 1
ClientAliveCountMax 2"
for u in alice noforward permit alive; do known_hosts_entry "$u"; done >"$T/known_hosts"
make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route srt-alice]
upstream = ${NET}11:2022

[route srt-bob]
upstream = ${NET}13:2022

[route srt-carol]
upstream = ${NET}14:2022

[route srt-team-red]
upstream = ${NET}15:2022

; alice's upstream, X11 forbidden by sshroute
[route srt-team-blue]
upstream = ${NET}11:2022
x11_forwarding = no
EOF
start_gateway gw "$GW" 2222 "$T/route.ini" fd3

service echo "${NET}20" 7000          # upstream side
service echo "${NET}21" 7000          # client side, for -R
mkdir -p "$T/www"
data www/page.bin 3
service_http() {
	local pid
	"$PY" -m http.server --bind "${NET}20" --directory "$T/www" 7001 </dev/null >>"$T/http.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "${NET}20" 7001 "$pid" || die "http service on ${NET}20:7001"
}
service_http
data small.bin 4

# ---------------------------------------------------------------- keepalives (in the background)

# Both run while the cases below do, and are checked afterwards. The client
# probes every second and gives up after 2 unanswered probes; the upstream
# "alive" does the same toward the client. (LogLevel INFO: ssh says
# "Timeout, server not responding" at that level.)
LOGLEVEL=INFO gw_ssh gw srt-alice -o ServerAliveInterval=1 -o ServerAliveCountMax=2 \
	'sleep 10; echo idle-done' </dev/null >"$T/ka-client.out" 2>"$T/ka-client.err" &
ka_client=$!
track_pid "$ka_client"
LOGLEVEL=INFO gw_ssh gw srt-team-red 'sleep 5; echo idle-done' </dev/null >"$T/ka-upstream.out" 2>"$T/ka-upstream.err" &
ka_upstream=$!
track_pid "$ka_upstream"

# ---------------------------------------------------------------- -L and -D

gw_ssh gw srt-alice -N -o ExitOnForwardFailure=yes \
	-L "$LOCAL:7200:${NET}20:7000" -D "$LOCAL:7300" </dev/null 2>"$T/L.err" &
lpid=$!
track_pid "$lpid"
if wait_listening "$LOCAL" 7200 "$lpid" && wait_listening "$LOCAL" 7300 "$lpid"; then
	out=$(timeout 60 "${FWD[@]}" xfer "$LOCAL" 7200 "$T/small.bin" 2>&1)
	expect_eq "-L: 4 MiB to an echo service behind the upstream and back" "${SUM[small.bin]}" "$out"
	# Two tunnels at once through the same forward.
	timeout 60 "${FWD[@]}" xfer "$LOCAL" 7200 "$T/small.bin" >"$T/L1.out" 2>&1 &
	p1=$!
	track_pid "$p1"
	timeout 60 "${FWD[@]}" xfer "$LOCAL" 7200 "$T/www/page.bin" >"$T/L2.out" 2>&1 &
	p2=$!
	track_pid "$p2"
	wait "$p1" "$p2"
	expect_eq "-L: two connections at once" "${SUM[small.bin]} ${SUM[www/page.bin]}" \
		"$(cat "$T/L1.out") $(cat "$T/L2.out")"
	out=$(timeout 60 curl -sS --max-time 30 --socks5-hostname "$LOCAL:7300" \
		"http://${NET}20:7001/page.bin" 2>&1 | sha256sum | cut -d' ' -f1)
	expect_eq "-D: curl through SOCKS5 (name resolved remotely) gets a 3 MiB page" \
		"${SUM[www/page.bin]#* }" "$out"
	out=$(timeout 60 curl -sS --max-time 30 --socks4 "$LOCAL:7300" \
		"http://${NET}20:7001/page.bin" 2>&1 | sha256sum | cut -d' ' -f1)
	expect_eq "-D: curl through SOCKS4" "${SUM[www/page.bin]#* }" "$out"
else
	not_ok "-L/-D: forwards listening" "$(cat "$T/L.err")"
fi
kill_tree "$lpid"

# ---------------------------------------------------------------- -W, -J, ProxyCommand

# The banner second's sshd sends, read directly.
banner=$(timeout 10 bash -c 'exec 3<>/dev/tcp/$0/2022 && head -n 1 <&3' "${NET}12" | tr -d '\r')
expect_match "-W: sanity check, second's banner read directly" '^SSH-2\.0-' "$banner"
out=$(sleep 1 | gw_ssh gw srt-alice -W "${NET}12:2022" 2>"$T/W.err" | head -n 1 | tr -d '\r')
expect_eq "-W: returns the target's SSH banner" "$banner" "$out"

# ProxyJump starts a second ssh that gets only -F, so the options live in
# a config file, and both hops' host keys in one known_hosts file.
cat "$T/client_known_hosts" >"$T/all_known_hosts"
known_hosts_entry second >>"$T/all_known_hosts"
cat >"$T/ssh_config" <<EOF
Host *
	UserKnownHostsFile $T/all_known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	PubkeyAuthentication no
	HostbasedAuthentication no
	${GSSAPI_OFF[*]:+GSSAPIAuthentication no}
	KbdInteractiveAuthentication no
	PreferredAuthentications password
	NumberOfPasswordPrompts 1
	IdentityAgent none
	LogLevel ERROR
	ConnectTimeout 10
EOF
pw=${PASSWORD[srt-alice]}
out=$(with_password "$pw" ssh -F "$T/ssh_config" -J "srt-alice@$GW:2222" \
	-p 2022 "srt-alice@${NET}12" hostname </dev/null 2>"$T/J.err")
expect_eq "ssh -J through sshroute reaches the second upstream" host-second "$out"
out=$(with_password "$pw" ssh -F "$T/ssh_config" \
	-o ProxyCommand="ssh -F $T/ssh_config -p 2222 -l srt-alice -W %h:%p $GW" \
	-p 2022 "srt-alice@${NET}12" hostname </dev/null 2>"$T/P.err")
expect_eq "ProxyCommand ssh -W through sshroute reaches the second upstream" host-second "$out"

# ---------------------------------------------------------------- -R

out=$(gw_ssh gw srt-alice -o ExitOnForwardFailure=yes -R "${NET}11:7100:${NET}21:7000" \
	"${FWD[*]} xfer ${NET}11 7100 $T/small.bin" </dev/null 2>"$T/R.err")
expect_eq "-R fixed port: the upstream reaches a service on the client side, data both ways" \
	"${SUM[small.bin]}" "$out"

# start_master SOCK: a ControlMaster connection through the gateway as
# srt-alice, controlled through SOCK; its PID in MASTER_PID (empty when it
# did not come up).
start_master() {
	gw_ssh gw srt-alice -M -S "$1" -o ControlPersist=no -fN </dev/null 2>"$1.err"
	MASTER_PID=$(ssh -F /dev/null -S "$1" -O check x 2>&1 |
		sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p')
	[ -n "$MASTER_PID" ] && track_pid "$MASTER_PID"
}
# mux [SSH ARGS...] and muxctl [SSH ARGS...]: a session, or a control
# command, through the master whose socket is $CM. (Should the master be
# gone, ssh falls back to port 22 of the gateway's address: nothing there.)
mux() {
	timeout -k 5 "$CLIENT_TIMEOUT" ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no \
		-o ControlPath="$CM" -o LogLevel=ERROR "srt-alice@$GW" "$@"
}
muxctl() {
	timeout -k 5 20 ssh -F /dev/null -S "$CM" -o LogLevel=ERROR "$@" x
}

# wait_port_state ADDR PORT up|down: bounded wait for a listener to (dis)appear.
wait_port_state() {
	local deadline=$((SECONDS + 5))
	while :; do
		if ss -ltnH | awk -v a="$1:$2" '$4 == a { f = 1 } END { exit !f }'; then
			[ "$3" = up ] && return 0
		else
			[ "$3" = down ] && return 0
		fi
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# The rest of -R over one ControlMaster connection, which the cases below
# use too: ssh -O forward prints the port the upstream allocated for port 0.
CM=$T/cm.sock
start_master "$CM"
master_pid=$MASTER_PID
if [ -n "$master_pid" ]; then
	port=$(muxctl -O forward -R "${NET}11:0:${NET}21:7000" 2>"$T/R0.err")
	if [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" != 0 ]; then
		ok "-R port 0: the allocated port ($port) is reported back"
		if wait_port_state "${NET}11" "$port" up; then
			ok "-R port 0: the upstream listens on that port"
		else
			not_ok "-R port 0: the upstream listens on that port" "nothing on ${NET}11:$port"
		fi
		out=$(mux "${FWD[*]} xfer ${NET}11 $port $T/small.bin" </dev/null)
		expect_eq "-R port 0: data both ways through the allocated port" "${SUM[small.bin]}" "$out"
	else
		not_ok "-R port 0: the allocated port is reported back" "got '$port' $(cat "$T/R0.err")"
	fi
	muxctl -O forward -R "${NET}11:7101:${NET}21:7000" >/dev/null 2>"$T/R1.err"
	if wait_port_state "${NET}11" 7101 up; then
		muxctl -O cancel -R "${NET}11:7101:${NET}21:7000" 2>"$T/Rc.err"
		if wait_port_state "${NET}11" 7101 down; then
			ok "-R cancel: the upstream stops listening"
		else
			not_ok "-R cancel: the upstream stops listening" "still listening; $(cat "$T/Rc.err")"
		fi
	else
		not_ok "-R cancel" "the forward to cancel did not come up: $(cat "$T/R1.err")"
	fi
	out=$(mux 'echo still $(hostname)' </dev/null)
	expect_eq "-R: the connection still carries sessions" "still host-alice" "$out"
else
	not_ok "ControlMaster for -R port 0" "no master: $(cat "$CM.err")"
fi

# ---------------------------------------------------------------- -A

AGENT_SOCK=$T/agent.sock
ssh-agent -D -a "$AGENT_SOCK" </dev/null >/dev/null 2>"$T/agent.err" &
agent_pid=$!
track_pid "$agent_pid"
deadline=$((SECONDS + 5))
until [ -S "$AGENT_SOCK" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
make_key "$T/agent_key"
chmod 644 "$T/agent_key.pub"
fp=$(ssh-keygen -lf "$T/agent_key.pub" | cut -d' ' -f2)
if SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -q "$T/agent_key" 2>"$T/ssh-add.err"; then
	out=$(SSH_AUTH_SOCK=$AGENT_SOCK gw_ssh gw srt-alice -A 'ssh-add -l' </dev/null 2>&1)
	expect_contains "-A: ssh-add -l on the upstream lists the client's key" "$fp" "$out"
	# The agent signs for the upstream: a signature made there through the
	# forwarded agent checks out here.
	echo "signed through sshroute $RUN_ID" >"$T/signed.txt"
	SSH_AUTH_SOCK=$AGENT_SOCK gw_ssh gw srt-alice -A \
		"ssh-keygen -q -Y sign -f $T/agent_key.pub -n srt-test" <"$T/signed.txt" >"$T/signed.sig" 2>"$T/sign.err"
	if ssh-keygen -q -Y check-novalidate -n srt-test -s "$T/signed.sig" <"$T/signed.txt" >/dev/null 2>&1; then
		ok "-A: the upstream signs with the client's agent"
	else
		not_ok "-A: the upstream signs with the client's agent" "$(cat "$T/sign.err")"
	fi
	out=$(SSH_AUTH_SOCK=$AGENT_SOCK gw_ssh gw srt-alice 'ssh-add -l; echo "rc=$?"' </dev/null 2>&1)
	expect_match "-A: sanity check, no agent on the upstream without -A" 'rc=2' "$out"
else
	not_ok "-A" "ssh-add failed: $(cat "$T/ssh-add.err" "$T/agent.err")"
fi
kill_tree "$agent_pid"

# ---------------------------------------------------------------- X11

# A fake X server on the client side; ssh -Y passes the upstream a fake
# cookie and puts the real one (from $XAUTHORITY) back into the X11 setup,
# which only works when the X11 channel carries the bytes faithfully.
service fakex "${NET}24" 6000
cookie=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
XAUTH=$T/xauthority
xauth -f "$XAUTH" add "${NET}24:0" MIT-MAGIC-COOKIE-1 "$cookie" 2>/dev/null
client_opts
out=$(SRT_PASSWORD=$pw SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force DISPLAY="${NET}24:0" \
	XAUTHORITY=$XAUTH timeout -k 5 "$CLIENT_TIMEOUT" ssh "${CLIENT_OPTS[@]}" -Y \
	-p 2222 -l srt-alice "$GW" \
	'c=$(xauth list "$DISPLAY" | awk "{ print \$3; exit }"); '"${FWD[*]}"' xclient "$DISPLAY" "$c"' \
	</dev/null 2>"$T/X.err")
expect_eq "-Y: an X11 client on the upstream reaches the client's X server with the real cookie" \
	"SRT-FAKE-X11 MIT-MAGIC-COOKIE-1 $cookie" "$out"
[ "$out" = "SRT-FAKE-X11 MIT-MAGIC-COOKIE-1 $cookie" ] || note "ssh -Y stderr:" "$(head -n 5 "$T/X.err")"

# An upstream without X11Forwarding refuses x11-req, and so does sshroute.
out=$(SRT_PASSWORD=${PASSWORD[srt-bob]} SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force DISPLAY="${NET}24:0" \
	XAUTHORITY=$XAUTH timeout -k 5 "$CLIENT_TIMEOUT" ssh "${CLIENT_OPTS[@]}" -o LogLevel=INFO -X \
	-p 2222 -l srt-bob "$GW" 'echo ran' </dev/null 2>"$T/X.err")
expect_eq "-X to an upstream without X11Forwarding: the session still runs" ran "$out"
expect_match "-X to an upstream without X11Forwarding: the client hears the refusal" \
	"X11 forwarding request failed" "$(cat "$T/X.err")"

# x11_forwarding = no: sshroute refuses x11-req itself, to an upstream
# that would take it.
out=$(SRT_PASSWORD=${PASSWORD[srt-team-blue]} SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force \
	DISPLAY="${NET}24:0" XAUTHORITY=$XAUTH timeout -k 5 "$CLIENT_TIMEOUT" ssh "${CLIENT_OPTS[@]}" \
	-o LogLevel=INFO -X -p 2222 -l srt-team-blue "$GW" 'echo "ran ${DISPLAY:-without-display}"' \
	</dev/null 2>"$T/X.err")
expect_eq "x11_forwarding = no: the session runs, without a DISPLAY" "ran without-display" "$out"
expect_match "x11_forwarding = no: the client hears the refusal" \
	"X11 forwarding request failed" "$(cat "$T/X.err")"

# ---------------------------------------------------------------- refusals

# Standard input that never ends (a FIFO open for reading and writing), so
# that only an answer from the other end can end these clients.
mkfifo "$T/hold"
exec 8<>"$T/hold"

# The upstream forbids all forwarding (AllowTcpForwarding no).
t0=$EPOCHREALTIME
gw_ssh gw srt-bob -W "${NET}12:2022" <&8 >"$T/Wno.out" 2>"$T/Wno.err"
rc=$?
took=$(elapsed "$t0")
expect_eq "AllowTcpForwarding no: -W fails" 255 "$rc"
faster "AllowTcpForwarding no: -W fails quickly" 3 "$took"
expect_match "AllowTcpForwarding no: ssh says the channel open failed" 'open failed|forwarding failed' \
	"$(cat "$T/Wno.err")"

t0=$EPOCHREALTIME
gw_ssh gw srt-bob -o ExitOnForwardFailure=yes -R "${NET}13:7100:${NET}21:7000" 'echo ran' \
	</dev/null >"$T/Rno.out" 2>"$T/Rno.err"
rc=$?
took=$(elapsed "$t0")
expect_eq "AllowTcpForwarding no: -R with ExitOnForwardFailure fails" "255 " "$rc $(cat "$T/Rno.out")"
faster "AllowTcpForwarding no: -R fails quickly" 5 "$took"
out=$(LOGLEVEL=INFO gw_ssh gw srt-bob -R "${NET}13:7100:${NET}21:7000" 'echo ran' </dev/null 2>"$T/Rno2.err")
expect_eq "AllowTcpForwarding no: the session runs anyway after a refused -R" "0 ran" "$? $out"
expect_match "AllowTcpForwarding no: ssh warns that the remote forward failed" 'remote port forwarding failed' \
	"$(cat "$T/Rno2.err")"

# The upstream allows tunnels to second's sshd only (PermitOpen).
out=$(sleep 1 | gw_ssh gw srt-carol -W "${NET}12:2022" 2>"$T/Wok.err" | head -n 1 | tr -d '\r')
expect_eq "PermitOpen: -W to the permitted target works" "$banner" "$out"
t0=$EPOCHREALTIME
gw_ssh gw srt-carol -W "${NET}20:7000" <&8 >/dev/null 2>"$T/Wperm.err"
rc=$?
took=$(elapsed "$t0")
expect_eq "PermitOpen: -W elsewhere fails" 255 "$rc"
faster "PermitOpen: -W elsewhere fails quickly" 3 "$took"

# probe_refused NAME GW USER FORWARD: ssh -L FORWARD with a session that
# waits for a flag; a connection to the forward must end at once (EOF),
# and the session must carry on and end normally.
probe_refused() {
	local name=$1 user=$3 fwd=$4 pid flag=flag-$RANDOM out
	gw_ssh "$2" "$user" -L "$fwd" "$(wait_flag_cmd "$flag"); echo still-here" </dev/null \
		>"$T/$flag.out" 2>"$T/$flag.err" &
	pid=$!
	track_pid "$pid"
	if wait_listening "$LOCAL2" "$(echo "$fwd" | cut -d: -f2)" "$pid"; then
		out=$(timeout 20 "${FWD[@]}" probe "$LOCAL2" "$(echo "$fwd" | cut -d: -f2)")
		case "$out" in
		"eof "*) faster "$name: the tunnel is closed at once" 3 "${out#eof }" ;;
		*) not_ok "$name: the tunnel is closed at once" "probe: $out" ;;
		esac
	else
		not_ok "$name" "-L did not listen: $(cat "$T/$flag.err")"
	fi
	touch "$T/$flag"
	wait "$pid"
	local rc=$?
	expect_eq "$name: the session carries on and ends normally" "0 still-here" "$rc $(cat "$T/$flag.out")"
}
probe_refused "PermitOpen: refused -L" gw srt-carol "$LOCAL2:7400:${NET}20:7000"
# Unsupported by sshroute (libssh 0.10): streamlocal channels and requests.
probe_refused "unsupported direct-streamlocal (-L to a socket)" gw srt-alice "$LOCAL2:7401:$T/nosuch.sock"
t0=$EPOCHREALTIME
gw_ssh gw srt-alice -o ExitOnForwardFailure=yes -R "$T/remote.sock:${NET}21:7000" 'echo ran' \
	</dev/null >"$T/Rsl.out" 2>"$T/Rsl.err"
rc=$?
took=$(elapsed "$t0")
expect_eq "unsupported streamlocal-forward (-R to a socket) fails" "255 " "$rc $(cat "$T/Rsl.out")"
faster "unsupported streamlocal-forward fails quickly" 5 "$took"
check_log_line "the gateway logs the upstream's refusal" "${GW_LOG[gw]}" "refused" "${NET}20"

# ---------------------------------------------------------------- keepalive results

wait "$ka_client"
rc=$?
expect_eq "ServerAliveInterval=1: a 10-second idle session ends normally" "0 idle-done" \
	"$rc $(cat "$T/ka-client.out")"
[ "$rc" = 0 ] || note "ssh stderr: $(cat "$T/ka-client.err")"
wait "$ka_upstream"
rc=$?
expect_eq "upstream ClientAliveInterval=1: a 5-second idle session ends normally" "0 idle-done" \
	"$rc $(cat "$T/ka-upstream.out")"
[ "$rc" = 0 ] || note "ssh stderr: $(cat "$T/ka-upstream.err")" "sshd: $(tail -n 3 "${UP_DIR[alive]}/sshd.log")"

# ---------------------------------------------------------------- everything at once

# Over the ControlMaster connection: tunnel S (flood service -> a client
# that reads nothing) and tunnel U (a client writing 64 MiB -> a sink
# service that reads nothing) are stalled; meanwhile a shell, an echo
# tunnel and a download over a session must all finish. Then the stalled
# ones are released and must get every byte.
data big.bin 64
data mid.bin 16
data dl.bin 32
service flood "${NET}22" 7000 "$T/big.bin" "$T/flood.progress"
service sink "${NET}23" 7000 "$T/go"

if [ -n "$master_pid" ] &&
	muxctl -O forward -L "$LOCAL:7600:${NET}22:7000" >/dev/null 2>"$T/fw.err" &&
	muxctl -O forward -L "$LOCAL:7601:${NET}20:7000" >/dev/null 2>>"$T/fw.err" &&
	muxctl -O forward -L "$LOCAL:7602:${NET}23:7000" >/dev/null 2>>"$T/fw.err"; then
	timeout 120 "${FWD[@]}" stall "$LOCAL" 7600 "$T/go" >"$T/stall.out" 2>&1 &
	stall_pid=$!
	track_pid "$stall_pid"
	timeout 120 "${FWD[@]}" push "$LOCAL" 7602 "$T/big.bin" >"$T/push.out" 2>&1 &
	push_pid=$!
	track_pid "$push_pid"
	# Wait until the flood has stopped making progress: the tunnel is full.
	deadline=$((SECONDS + 15))
	last=-1
	while [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.5
		now=$(cat "$T/flood.progress" 2>/dev/null || echo 0)
		[ "$now" -gt 0 ] && [ "$now" = "$last" ] && break
		last=$now
	done
	note "stalled tunnel: the flood service sent $(cat "$T/flood.progress" 2>/dev/null) bytes before it blocked"

	# 128 MiB are held back in the two tunnels; sshroute holds no more
	# than the channel windows allow (a few MiB each).
	expect_below "stalled: sshroute's memory stays bounded" "$(peak_kib)" 32768
	t0=$EPOCHREALTIME
	# A shell (no command), with its commands on standard input.
	printf 'echo "shell on $(hostname)"\nsleep 1\necho shell-done\nexit 5\n' >"$T/shell.in"
	mux <"$T/shell.in" >"$T/shell.out" 2>&1 &
	shell_pid=$!
	track_pid "$shell_pid"
	timeout 60 "${FWD[@]}" xfer "$LOCAL" 7601 "$T/mid.bin" >"$T/echo.out" 2>&1 &
	echo_pid=$!
	track_pid "$echo_pid"
	(mux "cat $T/dl.bin" </dev/null 2>"$T/dl.err" | sha256sum | cut -d' ' -f1 >"$T/dl.out") &
	dl_pid=$!
	track_pid "$dl_pid"
	wait "$shell_pid"
	shell_rc=$?
	wait "$echo_pid" "$dl_pid"
	took=$(elapsed "$t0")
	expect_eq "at once: the shell runs and exits with its status" \
		"5 shell on host-alice shell-done" "$shell_rc $(tr '\n' ' ' <"$T/shell.out" | sed 's/ $//')"
	expect_eq "at once: 16 MiB both ways through an echo tunnel" "${SUM[mid.bin]}" "$(cat "$T/echo.out")"
	expect_eq "at once: 32 MiB download over a session" "${SUM[dl.bin]#* }" "$(cat "$T/dl.out")"
	note "shell, echo tunnel and download took ${took}s together"
	sent=$(cat "$T/flood.progress" 2>/dev/null || echo 0)
	if alive "$stall_pid" && alive "$push_pid" && [ "$sent" -lt $((64 << 20)) ] &&
		[ ! -s "$T/stall.out" ] && [ ! -s "$T/push.out" ]; then
		ok "at once: the stalled tunnels were still stalled meanwhile"
	else
		not_ok "at once: the stalled tunnels were still stalled meanwhile" \
			"flood sent $sent; stall: $(cat "$T/stall.out"); push: $(cat "$T/push.out")"
	fi
	# Three more channels moving data at full speed: each may hold its
	# windows (2 MiB toward OpenSSH, 1.25 MiB toward libssh) and libssh's
	# buffers double as they grow; still far below the 128 MiB held back.
	expect_below "at once: sshroute's peak memory stays bounded" "$(peak_kib)" 65536

	touch "$T/go"
	wait "$stall_pid" "$push_pid"
	expect_eq "released: the stalled reader gets all 64 MiB" "${SUM[big.bin]}" "$(cat "$T/stall.out")"
	expect_eq "released: the stalled writer's 64 MiB all arrive" "${SUM[big.bin]}" "$(cat "$T/push.out")"
else
	not_ok "at once" "no master or forwards failed: $(cat "$T/fw.err" 2>/dev/null)"
fi

# A session whose command closes its output, then exits a second later:
# the upstream's EOF comes well before its exit-status, and the
# multiplexing client closes its side of the channel as soon as both EOFs
# went through (sshd, asked directly, still sends the exit-status then).
if [ -n "$master_pid" ]; then
	out=$(mux 'echo early; exec >&- 2>&-; sleep 1; exit 5' </dev/null)
	expect_eq "ControlMaster: exit status of a session that closed its output before exiting" \
		"5 early" "$? $out"
fi

# ---------------------------------------------------------------- pending opens

# A channel open that the far end takes long to answer must not hold up the
# rest of the connection. The target: a listener whose accept queue is full,
# so that the kernel drops further SYNs and connect() just waits. sshd (and
# ssh for -R) keep such a channel pending while they connect, for minutes.
"$PY" "$SRT_ROOT/tests/helpers/blackhole.py" "${NET}30" 7000 "$T/blackhole.ready" </dev/null >/dev/null 2>&1 &
track_pid $!
deadline=$((SECONDS + 5))
until [ -e "$T/blackhole.ready" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
out=$(timeout 10 "$PY" -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], 7000), timeout=2); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e)' "${NET}30")
expect_eq "pending opens: sanity check, a connection to the full listener hangs" timeout "$out"

# quick_session NAME: a case passing when a new session over the master
# $CM runs and ends within 3 s.
quick_session() {
	local t0=$EPOCHREALTIME out rc took
	out=$(timeout -k 2 20 ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no \
		-o ControlPath="$CM" -o LogLevel=ERROR "srt-alice@$GW" 'echo quick' </dev/null 2>&1)
	rc=$?
	took=$(elapsed "$t0")
	if [ "$rc $out" != "0 quick" ]; then
		not_ok "$1" "the session failed after ${took}s: exit $rc: $out"
	else
		faster "$1" 3 "$took"
	fi
}

# Each case on a connection of its own, so that one's trouble does not
# spill into the next.
CM=$T/cm-w.sock
start_master "$CM"
if [ -n "$MASTER_PID" ]; then
	quick_session "pending opens: sanity check, a session over an idle connection"
	mux -W "${NET}30:7000" <&8 >/dev/null 2>&1 &
	pending=$!
	track_pid "$pending"
	sleep 0.5
	quick_session "pending direct-tcpip open (-W to a target that does not answer): a new session still runs"
	kill_tree "$pending"
	muxctl -O exit 2>/dev/null
	wait_gone 5 "$MASTER_PID" || kill_tree "$MASTER_PID"
else
	not_ok "pending direct-tcpip open" "no master: $(cat "$CM.err")"
fi

CM=$T/cm-r.sock
start_master "$CM"
if [ -n "$MASTER_PID" ] && muxctl -O forward -R "${NET}11:7700:${NET}30:7000" >/dev/null 2>"$CM.fw"; then
	mux "${FWD[*]} probe ${NET}11 7700" </dev/null >/dev/null 2>&1 &
	pending=$!
	track_pid "$pending"
	sleep 0.5
	quick_session "pending forwarded-tcpip open (-R to a target that does not answer): a new session still runs"
	kill_tree "$pending"
	muxctl -O exit 2>/dev/null
	wait_gone 5 "$MASTER_PID" || kill_tree "$MASTER_PID"
else
	not_ok "pending forwarded-tcpip open" "no master or -O forward failed: $(cat "$CM.err" "$CM.fw" 2>/dev/null)"
fi
CM=$T/cm.sock

if [ -n "$master_pid" ]; then
	muxctl -O exit 2>/dev/null
	expect_gone "ControlMaster ends on -O exit" 10 "$master_pid"
fi

# ---------------------------------------------------------------- no-more-sessions

# OpenSSH's ssh sends no-more-sessions@openssh.com only to OpenSSH servers
# (it knows them by their banner), so paramiko sends it here. Without it a
# second session channel runs; after it, sshroute ends the connection as
# sshd does.
nms() {
	SRT_PASSWORD=${PASSWORD[srt-alice]} timeout 30 "$PY" "$SRT_ROOT/tests/helpers/no_more_sessions.py" \
		"$GW" 2222 srt-alice "$T/client_known_hosts" "$@" 2>&1
}
expect_eq "without no-more-sessions: a second session channel runs" "first: first
second: second" "$(nms)"
out=$(nms --no-more)
expect_match "no-more-sessions: the first session runs, a second one is refused" \
	'^first: first
second: refused' "$out"
# libssh 0.11 and later refuse that channel themselves, before sshroute
# sees it (the refusal is checked above); on 0.10 sshroute ends the
# connection, and says why.
if ! libssh_at_least 0.11; then
	check_log_line "no-more-sessions: the gateway logs the refused session" "${GW_LOG[gw]}" \
		"session channel requested after no-more-sessions"
fi

exec 8>&-
check_no_passwords "no password in the log" "${GW_LOG[gw]}"
check_no_leftovers "no sshroute process left after the sessions" gw

[ "$N_NOT_OK" = 0 ] || show_log gw 30
finish
