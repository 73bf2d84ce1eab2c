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
mpid= tpid=
cleanup() {
	[ -n "$tpid" ] && kill -INT "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null || true
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null || true
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
EOF
chmod 644 "$work"/passwd "$work"/acl "$work"/mosquitto.conf

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
inns() { ip netns exec "$ns" "$@"; }

if [ $# -gt 0 ]; then
	names=("$@")
else
	mapfile -t names < <("$scengen" -list)
	names+=(demo)
fi

# record NAME RAWPCAP: one broker, one tcpdump, one scengen run. Returns 3
# when the kernel dropped captured packets (the caller retries).
record() {
	local name=$1 raw=$2 rc=0 dropped
	# ip netns exec execs its command, so $! is the daemon itself.
	ip netns exec "$ns" mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto-$name.log" &
	mpid=$!
	for _ in $(seq 50); do
		inns ss -ltn "sport = :$port" | grep -q LISTEN && break
		sleep 0.1
	done
	inns ss -ltn "sport = :$port" | grep -q LISTEN || { echo "record.sh: mosquitto did not start:" >&2; cat "$work/mosquitto-$name.log" >&2; exit 1; }

	# -B: a 64 MiB ring, so bursts on a busy machine are not dropped;
	# --immediate-mode: nothing waits in the ring when tcpdump is stopped.
	ip netns exec "$ns" tcpdump -i lo -w "$raw" -s 0 -B 65536 -U --immediate-mode -Z root "tcp port $port" 2>"$work/tcpdump-$name.log" &
	tpid=$!
	for _ in $(seq 50); do
		grep -qs "listening on" "$work/tcpdump-$name.log" && break
		sleep 0.1
	done
	sleep 0.3

	timeout 60 ip netns exec "$ns" "$scengen" -scenario "$name" -broker "$broker" -v || rc=$?

	sleep 1
	kill -INT "$tpid"; wait "$tpid" || true; tpid=
	kill "$mpid"; wait "$mpid" || true; mpid=
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
	mkdir -p "$outdir"
	start=$(date +%s)
	ok=
	for attempt in 1 2 3; do
		if record "$name" "$work/$name.pcap"; then ok=1; break; fi
		echo "record.sh: $name: attempt $attempt incomplete, recording again" >&2
	done
	[ -n "$ok" ] || { echo "record.sh: $name: tcpdump kept dropping packets; machine too busy?" >&2; exit 1; }

	"$scengen" -scenario "$name" -broker "$broker" -labels "$outdir"
	if grep -q '"time_dilated": true' "$outdir/labels.json"; then
		"$scengen" -stretch -in "$work/$name.pcap" -out "$outfile" -labels-file "$outdir/labels.json" -broker "$broker"
	else
		cp "$work/$name.pcap" "$outfile"
	fi
	chmod 644 "$outfile"
	echo "record.sh: $name: $(stat -c %s "$outfile") bytes in $(( $(date +%s) - start )) s (mosquitto: $(grep -c . "$work/mosquitto-$name.log") log lines)"
done
echo "record.sh: ${#names[@]} recordings in $(( $(date +%s) - total_start )) s"
