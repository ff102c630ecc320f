#!/bin/bash
# What a session carries through sshroute (fd 3 mode): exit status and
# signals, stderr apart from stdout, stdin EOF, environment, a pty with
# window changes (driven through tmux), several sessions on one connection
# (ControlMaster), and teardown when either end goes away.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

one_upstream_gateway fd3
write_upstream_known_hosts alice

# ---------------------------------------------------------------- exit status

gw_ssh gw srt-alice 'exit 42' </dev/null
expect_eq "exit status 42 reaches the client" 42 $?
gw_ssh gw srt-alice 'true' </dev/null
expect_eq "exit status 0 reaches the client" 0 $?

# A command killed by a signal: ssh must get the exit-signal request and end
# as it does without sshroute. (ssh -v shows which exit request came.)
exit_report() {
	local out
	out=$(LOGLEVEL=DEBUG "$@" 'kill -TERM $$' </dev/null 2>&1)
	echo "exit $? $(printf '%s' "$out" | grep -o 'rtype exit-[a-z]*' | tr '\n' ' ')"
}
direct=$(exit_report up_ssh alice srt-alice)
relayed=$(exit_report gw_ssh gw srt-alice)
expect_match "exit signal: sanity check without sshroute" 'rtype exit-signal' "$direct"
expect_eq "exit signal: reaches the client as without sshroute" "$direct" "$relayed"

# ---------------------------------------------------------------- streams

gw_ssh gw srt-alice 'echo to-stdout; echo to-stderr >&2; echo more-stdout' </dev/null \
	>"$T/out" 2>"$T/err"
expect_eq "stdout carries only stdout" "to-stdout more-stdout" "$(tr '\n' ' ' <"$T/out" | sed 's/ $//')"
expect_eq "stderr carries only stderr" "to-stderr" "$(cat "$T/err")"

out=$(printf 'data\n' | gw_ssh gw srt-alice 'cat; echo done')
expect_eq "stdin EOF reaches the remote command" "data done" "$(printf "%s" "$out" | tr "\n" " ")"

# EOF the other way: the remote side closes its stdout while still running.
out=$(gw_ssh gw srt-alice 'echo early; exec >&- 2>&-; sleep 1' </dev/null)
expect_eq "remote EOF on stdout, then exit" "early" "$out"

out=$(SRT_SENDVAR=from-sendenv gw_ssh gw srt-alice -o SendEnv=SRT_SENDVAR \
	-o SetEnv=SRT_SETVAR=from-setenv 'echo "$SRT_SENDVAR $SRT_SETVAR"' </dev/null)
expect_eq "env: SendEnv and SetEnv reach the upstream" "from-sendenv from-setenv" "$out"

# ---------------------------------------------------------------- pty through tmux


# probe ID SIZE: type a command into the remote shell that prints
# "ID:rows cols:TERM:host:ID" and wait until its output shows SIZE (the
# echoed command line holds no digits there, so it never matches). The
# command is retyped every 2 s, as the shell may not be ready yet or the
# window change may not have arrived. Prints the last output line seen.
probe() {
	local id=$1 size=$2 deadline=$((SECONDS + 15)) next=0 line=
	while [ "$SECONDS" -lt "$deadline" ]; do
		if [ "$SECONDS" -ge "$next" ]; then
			tm send-keys -t srt "echo \"$id:\$(stty size):\$TERM:\$(hostname):$id\"" Enter
			next=$((SECONDS + 2))
		fi
		line=$(tm capture-pane -p -t srt | grep -Eo "$id:[0-9]+ [0-9]+:[^:]*:[^:]*:$id" | tail -n 1)
		case "$line" in "$id:$size:"*) break ;; esac
		sleep 0.2
	done
	echo "$line"
}

pane_size() {
	tm display-message -p -t srt '#{pane_height} #{pane_width}'
}

tmux_ssh gw srt-alice

size=$(pane_size)
out=$(probe P1 "$size")
expect_eq "pty: remote shell sees TERM, host and the initial size" "P1:$size:screen:host-alice:P1" "$out"

tm resize-window -t srt -x 120 -y 40
size=$(pane_size)
out=$(probe P2 "$size")
expect_eq "pty: window change to $size reaches the remote pty" "P2:$size:screen:host-alice:P2" "$out"

tm resize-window -t srt -x 70 -y 20
size=$(pane_size)
out=$(probe P3 "$size")
expect_eq "pty: second window change to $size reaches the remote pty" "P3:$size:screen:host-alice:P3" "$out"

tm send-keys -t srt 'exit 7' Enter
deadline=$((SECONDS + 10))
until [ -s "$T/pty.status" ] || [ "$SECONDS" -ge "$deadline" ]; do
	sleep 0.2
done
expect_eq "pty: shell exit status reaches the client" 7 "$(cat "$T/pty.status" 2>/dev/null)"
[ "$N_NOT_OK" = 0 ] || note "--- tmux pane:" "$(tm capture-pane -p -t srt | grep -v '^$' | tail -n 8)"
tm kill-server

# ---------------------------------------------------------------- ControlMaster

CM_SOCK=$T/cm.sock
gw_ssh gw srt-alice -M -S "$CM_SOCK" -o ControlPersist=no -fN </dev/null
master_pid=$(ssh -F /dev/null -S "$CM_SOCK" -O check x 2>&1 | sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p')
if [ -n "$master_pid" ]; then
	track_pid "$master_pid"
	ok "ControlMaster: master connection is up"
else
	not_ok "ControlMaster: master connection is up" "ssh -O check found no master"
fi

# mux CMD: a session through the master only. BatchMode=yes forbids
# passwords here, so a session that did not go through the master fails.
mux() {
	timeout -k 5 "$CLIENT_TIMEOUT" ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no \
		-o ControlPath="$CM_SOCK" -o LogLevel=ERROR srt-alice@"${NET}1" "$@" </dev/null
}

expect_eq "ControlMaster: first session" "one host-alice" "$(mux 'echo one $(hostname)')"
expect_eq "ControlMaster: second session" "two host-alice" "$(mux 'echo two $(hostname)')"

mux 'sleep 2; echo A' >"$T/mux-a" &
pa=$!
mux 'sleep 2; echo B' >"$T/mux-b" &
pb=$!
sleep 1
n_conn=$(gateway_children gw | wc -l)
wait "$pa" "$pb"
expect_eq "ControlMaster: two concurrent sessions" "A B" "$(cat "$T/mux-a" "$T/mux-b" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "ControlMaster: the sessions share one sshroute connection" 1 "$n_conn"
mux 'exit 3'
expect_eq "ControlMaster: exit status of a multiplexed session" 3 $?

ssh -F /dev/null -S "$CM_SOCK" -O exit x 2>/dev/null
expect_gone "ControlMaster: master ends on -O exit" 10 $master_pid

# ---------------------------------------------------------------- teardown

# A client whose stdin never ends, so only a teardown can end the session.
mkfifo "$T/fifo"
exec 7<>"$T/fifo"

# start_hanging_session: runs `echo started; exec cat` in the background
# (PID in $HANG_PID) and waits until it has started.
start_hanging_session() {
	local deadline=$((SECONDS + 15))
	: >"$T/hang.out"
	gw_ssh gw srt-alice 'echo started; exec cat' <&7 >"$T/hang.out" 2>/dev/null &
	HANG_PID=$!
	track_pid "$HANG_PID"
	until grep -q started "$T/hang.out" || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
	grep -q started "$T/hang.out"
}

wait_no_children gw 10
if start_hanging_session; then
	relay=$(gateway_children gw)
	up_session=$(descendants "${UP_PID[alice]}")
	# The client vanishes without a goodbye.
	kill -KILL $(descendants "$HANG_PID") "$HANG_PID" 2>/dev/null
	wait "$HANG_PID" 2>/dev/null
	expect_gone "client vanishes: sshroute exits" 10 $relay
	expect_gone "client vanishes: the upstream session ends" 10 $up_session
else
	not_ok "client vanishes" "session did not start"
fi

# A command that does not end at EOF (sleep): once the client vanishes,
# nothing is owed upstream, and sshroute does not wait for the command.
wait_no_children gw 10
: >"$T/sleep.out"
gw_ssh gw srt-alice 'echo started; exec sleep 60' </dev/null >"$T/sleep.out" 2>/dev/null &
sleeper=$!
track_pid "$sleeper"
for _ in $(seq 150); do grep -q started "$T/sleep.out" && break; sleep 0.1; done
relay=$(gateway_children gw)
if [ -n "$relay" ] && grep -q started "$T/sleep.out"; then
	kill -KILL $(descendants "$sleeper") "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	expect_gone "client vanishes, the command ignores EOF: sshroute exits within 3 s" 3 $relay
	if grep -F "sshroute[$relay]" "${GW_LOG[gw]}" | grep -q "undelivered"; then
		not_ok "... and logs no undelivered data, none being owed" \
			"$(grep -F "sshroute[$relay]" "${GW_LOG[gw]}" | grep undelivered)"
	else
		ok "... and logs no undelivered data, none being owed"
	fi
else
	not_ok "client vanishes, the command ignores EOF" "session did not start"
fi

wait_no_children gw 10
if start_hanging_session; then
	relay=$(gateway_children gw)
	# The upstream's session processes die; the listening sshd stays.
	kill -KILL $(descendants "${UP_PID[alice]}") 2>/dev/null
	expect_gone "upstream vanishes: the client connection ends" 10 "$HANG_PID"
	expect_gone "upstream vanishes: sshroute exits" 10 $relay
else
	not_ok "upstream vanishes" "session did not start"
fi
exec 7>&-

check_no_passwords "no password in the log" "${GW_LOG[gw]}"
check_no_leftovers "no sshroute process left after the sessions" gw

[ "$N_NOT_OK" = 0 ] || show_log gw
finish
