#!/bin/bash
# Upstream pools (issue 17): a route lists several hosts. The first host
# down: the login lands on the next. balance = user: each name lands on the
# same host every time, the names spread over every host, and removing a
# host moves only its users. A host that drops packets, or one stuck after
# its banner, costs at most connect_timeout. A host key mismatch on the
# first host never fails over.
#
# The script runs in a network namespace of its own (it re-executes itself
# under unshare --net): there a veth pair makes an address that never
# answers, and nothing of it outlives the test.

if [ -z "${SRT_POOL_NETNS-}" ]; then
	exec unshare --net env SRT_POOL_NETNS=1 "$0" "$@"
fi
# A veth pair whose far end has no address: nobody answers the neighbour
# lookup for 10.254.0.2, so nothing sent there gets any answer (the
# kernel gives up after about 3 s, later than the connect_timeout below).
ip link set lo up
ip link add srt-near type veth peer name srt-far && ip addr add 10.254.0.1/30 dev srt-near &&
	ip link set srt-near up && ip link set srt-far up ||
	{ echo "not ok - setup: no veth pair in the test's network namespace"; exit 1; }
BLACKHOLE=10.254.0.2

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

start_upstream p1 "${NET}11" 2022
start_upstream p2 "${NET}12" 2022
start_upstream p3 "${NET}13" 2022
start_upstream mm "${NET}14" 2022
# a host that takes the connection and is stuck after its banner
/usr/bin/python3 "$SRT_ROOT/tests/helpers/fake_upstream.py" "${NET}18" 2022 banner </dev/null \
	>"$T/stuck.log" 2>&1 &
stuck_pid=$!
track_pid "$stuck_pid"
wait_listening "${NET}18" 2022 "$stuck_pid" || die "fake_upstream.py on ${NET}18:2022"
{
	known_hosts_entry p1
	known_hosts_entry p2
	known_hosts_entry p3
	# mm shows its own key, but known_hosts holds p1's for it: a mismatch
	echo "[${NET}14]:2022 $(cut -d' ' -f1-2 "${UP_DIR[p1]}/ssh_host_ed25519_key.pub")"
	# the down and the silent host: listed, as every host of a list must be
	echo "[${NET}19]:2022 $(cut -d' ' -f1-2 "${UP_DIR[p1]}/ssh_host_ed25519_key.pub")"
	echo "[$BLACKHOLE]:2022 $(cut -d' ' -f1-2 "${UP_DIR[p1]}/ssh_host_ed25519_key.pub")"
	echo "[${NET}18]:2022 $(cut -d' ' -f1-2 "${UP_DIR[p1]}/ssh_host_ed25519_key.pub")"
} >"$T/known_hosts"
make_gateway_key

# pool_ini FILE POOL: the routes, with POOL as the list of the pool-* route.
pool_ini() {
	cat >"$1" <<-INI
		[server]
		host_key = $GW_KEY
		known_hosts = $T/known_hosts

		; nothing listens on the first host
		[route srt-alice]
		upstream = ${NET}19:2022, ${NET}11:2022

		; the first host drops every packet
		[route srt-bob]
		upstream = $BLACKHOLE:2022, ${NET}12:2022
		connect_timeout = 2

		; the first host never finishes the key exchange
		[route srt-team-blue]
		upstream = ${NET}18:2022, ${NET}13:2022
		connect_timeout = 2

		; the first host's key is not the one in known_hosts
		[route srt-carol]
		upstream = ${NET}14:2022, ${NET}11:2022

		[route pool-*]
		upstream = $2
		user = srt-team-red
		balance = user
	INI
}
pool_ini "$T/route.ini" "${NET}11:2022, ${NET}12:2022, ${NET}13:2022"
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
pool_ini "$T/fewer.ini" "${NET}11:2022, ${NET}12:2022"
start_gateway fewer "${NET}2" 2222 "$T/fewer.ini" fd3

# record_field GW NAME: a field of the gateway's last session record.
record_field() {
	grep 'session end' "${GW_LOG[$1]}" | tail -n 1 | sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p"
}

# ---------------------------------------------------------------- failover

out=$(gw_ssh gw srt-alice hostname </dev/null 2>"$T/err")
expect_eq "first host down: the login lands on the second" host-p1 "$out"
check_log_line "every attempt is logged: the first" "${GW_LOG[gw]}" \
	"trying upstream ${NET}19 port 2022 (1 of 2)"
check_log_line "every attempt is logged: why it failed" "${GW_LOG[gw]}" \
	"cannot connect to upstream ${NET}19 port 2022"
check_log_line "every attempt is logged: the second" "${GW_LOG[gw]}" \
	"trying upstream ${NET}11 port 2022 (2 of 2)"
wait_no_children gw 10
expect_eq "the session record names the host used" "${NET}11:2022" "$(record_field gw upstream)"

# fails_over USER HOST FIRST COST: USER's first host FIRST (how it fails)
# gives way, the login lands on HOST, and COST (the failure) takes at most
# connect_timeout (2 s) and a login's time.
fails_over() {
	local start out took
	start=$SECONDS
	out=$(gw_ssh gw "$1" hostname </dev/null 2>"$T/err")
	took=$((SECONDS - start))
	expect_eq "first host $3: the login lands on the second" "$2" "$out"
	if [ "$took" -le 6 ]; then
		ok "$4 costs at most connect_timeout (the login took $took s)"
	else
		not_ok "$4 costs at most connect_timeout" "the login took $took s"
	fi
}

fails_over srt-bob host-p2 "drops packets" "a silent host"
check_log_line "a silent host: logged as not answering in time" "${GW_LOG[gw]}" \
	"cannot connect to upstream $BLACKHOLE port 2022: Timeout"

fails_over srt-team-blue host-p3 "stuck in the key exchange" "a stuck key exchange"

out=$(LOGLEVEL=INFO gw_ssh gw srt-carol hostname </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 255 ] && [ -z "$out" ] && grep -qF "the server for this account is unavailable" "$T/err"; then
	ok "a host key mismatch on the first host: refused, no failover"
else
	not_ok "a host key mismatch on the first host: refused, no failover" "rc $rc out '$out' err '$(cat "$T/err")'"
fi
check_log_line "a host key mismatch: logged as an attack" "${GW_LOG[gw]}" \
	"POSSIBLE MAN-IN-THE-MIDDLE ATTACK" 'user="srt-carol"'
check_log_line "a host key mismatch: logged as no reason to fail over" "${GW_LOG[gw]}" \
	"never a reason to fail over" 'user="srt-carol"'

if grep -qF "trying upstream ${NET}11 port 2022 (2 of 2)" <(grep 'user="srt-carol"' "${GW_LOG[gw]}"); then
	not_ok "a host key mismatch: the second host is never tried" "$(grep 'user="srt-carol"' "${GW_LOG[gw]}" | grep trying)"
else
	ok "a host key mismatch: the second host is never tried"
fi

# ---------------------------------------------------------------- balance = user

NAMES=$(seq -f 'pool-%g' 1 12)
declare -A FIRST
spread=
for name in $NAMES; do
	a=$(PW=${PASSWORD[srt-team-red]} gw_ssh gw "$name" hostname </dev/null 2>/dev/null)
	b=$(PW=${PASSWORD[srt-team-red]} gw_ssh gw "$name" hostname </dev/null 2>/dev/null)
	FIRST[$name]=$a
	[ -n "$a" ] && [ "$a" = "$b" ] || not_ok "balance = user: $name lands on the same host twice" "$a, then $b"
	spread="$spread $a"
done
same=0
for name in $NAMES; do [ -n "${FIRST[$name]}" ] && same=$((same + 1)); done
expect_eq "balance = user: a dozen names each land on the same host twice" 12 "$same"
hosts=$(printf '%s\n' $spread | sort -u | tr '\n' ' ')
expect_eq "balance = user: the names spread over every host" "host-p1 host-p2 host-p3 " "$hosts"

moved_wrongly=
moved=0
for name in $NAMES; do
	c=$(PW=${PASSWORD[srt-team-red]} gw_ssh fewer "$name" hostname </dev/null 2>/dev/null)
	if [ "${FIRST[$name]}" = host-p3 ]; then
		[ "$c" = host-p1 ] || [ "$c" = host-p2 ] || moved_wrongly="$moved_wrongly $name:$c"
		moved=$((moved + 1))
	elif [ "$c" != "${FIRST[$name]}" ]; then
		moved_wrongly="$moved_wrongly $name:${FIRST[$name]}->$c"
	fi
done
if [ -z "$moved_wrongly" ] && [ "$moved" -gt 0 ]; then
	ok "removing a host moves only its users ($moved of 12 moved)"
else
	not_ok "removing a host moves only its users" "moved:$moved_wrongly"
fi

# ---------------------------------------------------------------- -T and -t

name=$(printf '%s\n' $NAMES | head -n 1)
out=$("$SSHROUTE" -f "$T/route.ini" -T "$name" 2>&1)
want_first=$(sed -n 's/^upstream: //p' <<<"$out")
expect_contains "-T: the order in which the user's hosts are tried" "$out" "upstreams: "
expect_contains "-T: and how it is chosen" "$out" "balance: user: this user's order, the same every time"
expect_eq "-T: the first host to try is the one the user lands on" "${FIRST[$name]}" \
	"host-p$(( ${want_first##*.} - 10 ))"
expect_contains "-T: connect_timeout" "$out" "connect_timeout: 5 s"
sed "s|^upstream = ${NET}19:2022, |upstream = ${NET}29:2022, |" "$T/route.ini" >"$T/unknown.ini"
out=$("$SSHROUTE" -f "$T/unknown.ini" -t 2>&1)
expect_contains "-t: says which hosts are missing from known_hosts" "$out" \
	"warning: [route srt-alice] upstream ${NET}29 port 2022 is not in known_hosts"
expect_contains "-t: still OK" "$out" "configuration OK"

check_no_passwords "no password in the logs" "${GW_LOG[gw]}" "${GW_LOG[fewer]}"
check_no_leftovers "no sshroute process left" gw fewer
finish
