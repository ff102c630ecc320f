#!/bin/bash
# tests/demo.sh (make demo): two upstream SSH hosts, host-alice and
# host-bob (real sshd, each in its own UTS namespace), and sshroute behind
# systemd-socket-activate on 127.0.0.1:2222 with a demo route.ini. Prints
# which ssh command lands where; Ctrl-C stops everything (by PID).
# make builds ./sshroute first; this script builds nothing.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute

GW_ADDR_DEMO=127.0.0.1
GW_PORT_DEMO=${DEMO_PORT:-2222}
if listening "$GW_ADDR_DEMO" "$GW_PORT_DEMO"; then
	echo "demo: $GW_ADDR_DEMO:$GW_PORT_DEMO is already in use; stop what listens there (or set DEMO_PORT)" >&2
	exit 1
fi

ensure_users
pick_net
start_upstream alice "${NET}11" "$(free_port "${NET}11" 22)"
start_upstream bob "${NET}12" "$(free_port "${NET}12" 22)"
{ known_hosts_entry alice; known_hosts_entry bob; } >"$T/known_hosts"

# The client names alice and bob are mapped onto the test accounts, so the
# demo adds no account called alice or bob to this machine.
make_gateway_key
cat >"$T/route.ini" <<EOF
; sshroute demo routing table (made by tests/demo.sh)
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
log_level = verbose

[route alice]
upstream = ${NET}11:${UP_PORT[alice]}
user = srt-alice

[route bob]
upstream = ${NET}12:${UP_PORT[bob]}
user = srt-bob
EOF
"$SSHROUTE" -t -f "$T/route.ini" >/dev/null || die "the demo route.ini does not check"
start_gateway demo "$GW_ADDR_DEMO" "$GW_PORT_DEMO" "$T/route.ini" fd3

# Keeps the demo's throwaway host key out of ~/.ssh/known_hosts.
kh="-o UserKnownHostsFile=$T/client_known_hosts"
cat <<EOF

sshroute demo: listening on $GW_ADDR_DEMO:$GW_PORT_DEMO

  ssh $kh -p $GW_PORT_DEMO alice@$GW_ADDR_DEMO hostname
      lands on host-alice (${NET}11, as srt-alice); password: ${PASSWORD[srt-alice]}

  ssh $kh -p $GW_PORT_DEMO bob@$GW_ADDR_DEMO hostname
      lands on host-bob (${NET}12, as srt-bob); password: ${PASSWORD[srt-bob]}

  ssh $kh -p $GW_PORT_DEMO carol@$GW_ADDR_DEMO
      has no route: "Permission denied", just like a wrong password

  Leave out "hostname" for a shell; scp -P and sftp -P work the same way.
  Routing table: $T/route.ini
  sshroute log:  tail -f ${GW_LOG[demo]}

Press Ctrl-C to stop.
EOF

# Runs until Ctrl-C (the INT trap from lib.sh exits, and the EXIT trap stops
# every process by PID), or until systemd-socket-activate dies.
while kill -0 "${GW_PID[demo]}" 2>/dev/null; do
	sleep 1
done
echo "demo: systemd-socket-activate ended unexpectedly" >&2
exit 1
