#!/usr/bin/env bash
# Re-records the scenario pcaps (and the demo capture) against a real
# mosquitto. Usage, from anywhere, as root:
#
#   bash testdata/scenarios/record.sh              # every scenario, then demo
#   bash testdata/scenarios/record.sh bruteforce idle demo
#
# Each scenario gets a fresh broker and a fresh tcpdump inside a private
# network namespace, so 127.0.0.1:1883 is always free, nothing else on the
# machine leaks into the capture, and source addresses 127.0.0.x work as in
# production. Clients come from tools/scengen (see its doc.go).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=1883
broker=127.0.0.1:$port

for bin in mosquitto mosquitto_passwd mosquitto_pub mosquitto_sub tcpdump ip go; do
	command -v "$bin" >/dev/null || { echo "record.sh: need $bin (apt-get install mosquitto mosquitto-clients tcpdump iproute2)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "record.sh: needs root (network namespace, tcpdump)" >&2; exit 2; }

work=$(mktemp -d /tmp/mqttids-record.XXXXXX)
ns=mqttids-rec-$$
tpid=
cleanup() {
	[ -n "$tpid" ] && kill -INT "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null || true
	[ -x "$work/broker" ] && "$work/broker" stop 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	if [ -n "${KEEP_LOGS:-}" ]; then # KEEP_LOGS=DIR keeps broker and tcpdump logs
		mkdir -p "$KEEP_LOGS" && cp "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$repo" && go build -o "$work/scengen" ./tools/scengen)
scengen=$work/scengen

# Broker configuration. mosquitto started as root drops to user mosquitto,
# so the folder and files must be readable by it.
chmod 755 "$work"
: >"$work/passwd"
"$scengen" -accounts | while read -r user pass; do
	mosquitto_passwd -b "$work/passwd" "$user" "$pass"
done
cat >"$work/acl" <<'EOF'
user sensor1
topic write plant/line1/#
user sensor2
topic write plant/line1/#
user sensor3
topic write plant/line2/#
user dashboard
topic read plant/#
user historian
topic read plant/#
user gateway
topic readwrite plant/gw/#
user operator
topic readwrite plant/ops/#
user mallory
topic readwrite #
user admin
topic readwrite #
user fleet
topic readwrite fleet/#
EOF
cat >"$work/mosquitto.conf" <<EOF
per_listener_settings false
listener $port 127.0.0.1
allow_anonymous false
password_file $work/passwd
acl_file $work/acl
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
sys_interval 10
max_connections -1
EOF
chmod 644 "$work"/passwd "$work"/acl "$work"/mosquitto.conf

# $work/broker start|kill|stop controls the broker of the current
# recording: record() uses it, and so does scengen (-restart-cmd) in
# benign-broker-restart, which kills the broker mid-capture with SIGKILL
# and starts it again. Run it inside the namespace (scengen already is).
# The broker is not a child of this shell after a restart, so its pid
# lives in a file and "gone" is read from /proc (a zombie counts as gone).
cat >"$work/broker" <<EOF
#!/bin/sh
set -eu
pidf=$work/mosquitto.pid
alive() { st=\$(cut -d' ' -f3 /proc/"\$1"/stat 2>/dev/null) && [ "\$st" != Z ]; }
gone() { for _ in \$(seq 100); do alive "\$1" || return 0; sleep 0.05; done; return 1; }
case \${1:-} in
start)
	mosquitto -c $work/mosquitto.conf </dev/null >/dev/null 2>>$work/mosquitto-current.log &
	echo \$! >"\$pidf"
	for _ in \$(seq 50); do
		ss -ltn "sport = :$port" | grep -q LISTEN && exit 0
		sleep 0.1
	done
	echo "broker: mosquitto did not start" >&2; exit 1 ;;
kill|stop)
	[ -s "\$pidf" ] || exit 0
	pid=\$(cat "\$pidf")
	if [ "\$1" = kill ]; then sig=KILL; else sig=TERM; fi
	kill -\$sig "\$pid" 2>/dev/null || true
	gone "\$pid" || { echo "broker: mosquitto \$pid did not exit" >&2; exit 1; }
	rm -f "\$pidf" ;;
*) echo "usage: broker start|kill|stop" >&2; exit 2 ;;
esac
EOF
chmod 755 "$work/broker"

# slowite holds up to 400 sessions from one address: the broker (no
# connection cap above) and scengen each need that many descriptors.
[ "$(ulimit -n)" -ge 2048 ] || ulimit -n 4096 || { echo "record.sh: need ulimit -n >= 2048 for slowite" >&2; exit 2; }

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
inns() { ip netns exec "$ns" "$@"; }

if [ $# -gt 0 ]; then
	names=("$@")
else
	mapfile -t names < <("$scengen" -list)
	names+=(demo)
fi

# record NAME RAWPCAP SEED: one broker, one tcpdump, one scengen run.
# Returns 3 when the kernel dropped captured packets (the caller retries).
record() {
	local name=$1 raw=$2 seed=$3 rc=0 dropped limit
	: >"$work/mosquitto-current.log"
	inns "$work/broker" start || { echo "record.sh: mosquitto did not start:" >&2; cat "$work/mosquitto-current.log" >&2; exit 1; }

	# -B: a 64 MiB ring, so bursts on a busy machine are not dropped;
	# --immediate-mode: nothing waits in the ring when tcpdump is stopped.
	ip netns exec "$ns" tcpdump -i lo -w "$raw" -s 0 -B 65536 -U --immediate-mode -Z root "tcp port $port" 2>"$work/tcpdump-$name.log" &
	tpid=$!
	for _ in $(seq 50); do
		grep -qs "listening on" "$work/tcpdump-$name.log" && break
		sleep 0.1
	done
	sleep 0.3

	limit=$(( $("$scengen" -scenario "$name" -seed "$seed" -duration) + 10 ))
	timeout "$limit" ip netns exec "$ns" "$scengen" -scenario "$name" -seed "$seed" -broker "$broker" -restart-cmd "$work/broker" -v || rc=$?

	sleep 1
	kill -INT "$tpid"; wait "$tpid" || true; tpid=
	inns "$work/broker" stop || true
	mv "$work/mosquitto-current.log" "$work/mosquitto-$name.log"
	if [ "$rc" != 0 ]; then
		echo "record.sh: scenario $name failed (exit $rc); mosquitto log:" >&2
		tail -20 "$work/mosquitto-$name.log" >&2
		exit 1
	fi
	dropped=$(awk '/dropped by kernel/ {print $1}' "$work/tcpdump-$name.log")
	if [ "${dropped:-0}" != 0 ]; then
		echo "record.sh: $name: tcpdump lost $dropped packets" >&2
		return 3
	fi
}

total_start=$(date +%s)
for name in "${names[@]}"; do
	if [ "$name" = demo ]; then
		outdir=$repo/testdata/demo
		outfile=$outdir/demo.pcap
	else
		outdir=$here/$name
		outfile=$outdir/input.pcap
	fi
	"$scengen" -scenario "$name" -labels "$work" >/dev/null # fails early on an unknown name
	# SEED=N fixes the parameters of the varied scenarios (see
	# tools/scengen/varied.go); otherwise each scenario draws a fresh one.
	# Retries keep the seed.
	seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	[ "$seed" != 0 ] || seed=1 # 0 would vanish from the labels (omitempty)
	mkdir -p "$outdir"
	start=$(date +%s)
	ok=
	for attempt in 1 2 3; do
		if record "$name" "$work/$name.pcap" "$seed"; then ok=1; break; fi
		echo "record.sh: $name: attempt $attempt incomplete, recording again" >&2
	done
	[ -n "$ok" ] || { echo "record.sh: $name: tcpdump kept dropping packets; machine too busy?" >&2; exit 1; }

	"$scengen" -scenario "$name" -seed "$seed" -broker "$broker" -labels "$outdir"
	if grep -q '"time_dilated": true' "$outdir/labels.json"; then
		"$scengen" -stretch -in "$work/$name.pcap" -out "$outfile" -labels-file "$outdir/labels.json" -broker "$broker"
	else
		cp "$work/$name.pcap" "$outfile"
	fi
	chmod 644 "$outfile"
	# Second pass over the final capture: attack_start is read from it.
	"$scengen" -scenario "$name" -seed "$seed" -broker "$broker" -labels "$outdir" -pcap "$outfile"
	echo "record.sh: $name (seed $seed): $(stat -c %s "$outfile") bytes in $(( $(date +%s) - start )) s (mosquitto: $(grep -c . "$work/mosquitto-$name.log") log lines)"
done
echo "record.sh: ${#names[@]} recordings in $(( $(date +%s) - total_start )) s"
