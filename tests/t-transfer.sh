#!/bin/bash
# Bulk data through sshroute (inetd mode, connection on fd 0): 64 MiB each
# way over exec channels, sftp put/get, scp (legacy -O and the default sftp
# mode), all compared by sha256; and bounded memory while one side stalls.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

one_upstream_gateway inetd

# Test data, readable by srt-alice (the upstream shares this file system).
head -c 64M /dev/urandom >"$T/up.bin"
head -c 64M /dev/urandom >"$T/down.bin"
chmod 644 "$T/up.bin" "$T/down.bin"
SUM_UP=$(sha256sum <"$T/up.bin" | cut -d' ' -f1)
SUM_DOWN=$(sha256sum <"$T/down.bin" | cut -d' ' -f1)
HOME_ALICE=$(getent passwd srt-alice | cut -d: -f6)
REMOTE=srt-$RUN_ID  # prefix of files put into srt-alice's home; cleanup removes them

sum_of() {
	sha256sum <"$1" 2>/dev/null | cut -d' ' -f1
}

# ---------------------------------------------------------------- exec channels

out=$(gw_ssh gw srt-alice 'sha256sum' <"$T/up.bin" 2>"$T/err")
expect_eq "64 MiB upload (stdin to remote sha256sum)" "$SUM_UP  -" "$out"

out=$(gw_ssh gw srt-alice "cat $T/down.bin" </dev/null 2>"$T/err" | sha256sum | cut -d' ' -f1)
expect_eq "64 MiB download (remote cat to stdout)" "$SUM_DOWN" "$out"

# Both directions at once, through a remote cat.
out=$(gw_ssh gw srt-alice 'cat' <"$T/up.bin" 2>"$T/err" | sha256sum | cut -d' ' -f1)
expect_eq "64 MiB both ways at once (remote cat)" "$SUM_UP" "$out"

# ---------------------------------------------------------------- sftp and scp

cat >"$T/sftp.batch" <<EOF
put $T/up.bin $REMOTE-sftp.bin
get $T/down.bin $T/sftp-down.bin
EOF
gw_sftp gw srt-alice "$T/sftp.batch" >"$T/sftp.out" 2>&1
rc=$?
[ "$rc" = 0 ] || note "sftp exit $rc:" "$(tail -n 5 "$T/sftp.out")"
expect_eq "sftp put 64 MiB" "$SUM_UP" "$(sum_of "$HOME_ALICE/$REMOTE-sftp.bin")"
expect_eq "sftp get 64 MiB" "$SUM_DOWN" "$(sum_of "$T/sftp-down.bin")"

gw_scp gw srt-alice -O "$T/up.bin" "@:$REMOTE-scp.bin" 2>"$T/err"
expect_eq "scp -O (legacy protocol) upload" "$SUM_UP" "$(sum_of "$HOME_ALICE/$REMOTE-scp.bin")"
gw_scp gw srt-alice -O "@:$T/down.bin" "$T/scp-down.bin" 2>"$T/err"
expect_eq "scp -O (legacy protocol) download" "$SUM_DOWN" "$(sum_of "$T/scp-down.bin")"

gw_scp gw srt-alice "$T/up.bin" "@:$REMOTE-scp-sftp.bin" 2>"$T/err"
expect_eq "scp (sftp protocol) upload" "$SUM_UP" "$(sum_of "$HOME_ALICE/$REMOTE-scp-sftp.bin")"
gw_scp gw srt-alice "@:$T/down.bin" "$T/scp-sftp-down.bin" 2>"$T/err"
expect_eq "scp (sftp protocol) download" "$SUM_DOWN" "$(sum_of "$T/scp-sftp-down.bin")"

# ---------------------------------------------------------------- flow control

# peak_rss_kib GW: the largest peak resident size (VmHWM) among the
# gateway's sshroute processes.
peak_rss_kib() {
	local pid max=0 kib
	for pid in $(gateway_children "$1"); do
		kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[ -n "$kib" ] && [ "$kib" -gt "$max" ] && max=$kib
	done
	echo "$max"
}

# stalled NAME: the transfer running in the background (PID $!) has a side
# that reads nothing for 4 s; sshroute must stop reading the other side
# instead of buffering, so its memory stays at a few MiB, far below the
# 64 MiB in flight. The limit leaves room for libssh and the C library.
LIMIT_KIB=32768
stalled() {
	local name=$1 pid=$! rss
	track_pid "$pid"
	sleep 3
	rss=$(peak_rss_kib gw)
	wait "$pid"
	memory_check_applies "$name: sshroute peak memory" || return 0
	if [ "$rss" -gt 0 ] && [ "$rss" -lt "$LIMIT_KIB" ]; then
		ok "$name: sshroute peak memory ${rss} KiB"
	else
		not_ok "$name" "sshroute peak memory ${rss} KiB (limit $LIMIT_KIB KiB; 0: no process found)"
	fi
}

# The client reads nothing for 4 s while the upstream sends 64 MiB.
gw_ssh gw srt-alice 'head -c 64M /dev/zero' </dev/null 2>"$T/err" |
	{ sleep 4; wc -c >"$T/stall-down"; } &
stalled "stalled client reader bounds memory"
expect_eq "stalled client reader still gets every byte" 67108864 "$(cat "$T/stall-down")"

# The upstream command reads nothing for 4 s while the client sends 64 MiB.
gw_ssh gw srt-alice 'sleep 4; wc -c' <"$T/up.bin" >"$T/stall-up" 2>"$T/err" &
stalled "stalled upstream reader bounds memory"
expect_eq "stalled upstream reader still gets every byte" 67108864 "$(cat "$T/stall-up")"

check_no_passwords "no password in the log" "${GW_LOG[gw]}"
check_no_leftovers "no sshroute process left after the sessions" gw

[ "$N_NOT_OK" = 0 ] || show_log gw
finish
