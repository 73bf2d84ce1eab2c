#!/usr/bin/env bash
# Records the small real-broker captures in this folder: a mosquitto broker
# on 127.0.0.1:PORT with a temporary config and password file, real
# mosquitto_pub / mosquitto_sub clients (MQTT 3.1.1 and 5), tcpdump on
# loopback. Run as root from anywhere; rewrites mosquitto-*.pcap here.
#
#   sudo capture/testdata/record.sh
#
# Check a capture with: tshark -r FILE -d tcp.port==PORT,mqtt
set -euo pipefail

PORT=${PORT:-18883}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
chmod 755 "$TMP"
cleanup() {
	[[ -n "${TCPDUMP:-}" ]] && kill "$TCPDUMP" 2>/dev/null || true
	[[ -n "${BROKER:-}" ]] && kill "$BROKER" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

mosquitto_passwd -b -c "$TMP/passwd" alice wonderland >/dev/null
mosquitto_passwd -b "$TMP/passwd" bob builder >/dev/null
chmod 644 "$TMP/passwd"
cat >"$TMP/mosquitto.conf" <<CONF
per_listener_settings false
listener $PORT 127.0.0.1
allow_anonymous false
password_file $TMP/passwd
persistence false
log_dest none
CONF

mosquitto -c "$TMP/mosquitto.conf" &
BROKER=$!
for _ in $(seq 50); do
	if mosquitto_pub -h 127.0.0.1 -p "$PORT" -u alice -P wonderland -t warmup -m x 2>/dev/null; then break; fi
	sleep 0.1
done

# record NAME IFACE: runs the function scenario_NAME under tcpdump.
record() {
	local name=$1 iface=$2
	tcpdump -i "$iface" -s 0 -U -w "$TMP/$name.pcap" "tcp port $PORT" 2>/dev/null &
	TCPDUMP=$!
	sleep 2
	"scenario_${name//-/_}"
	sleep 1
	kill -INT "$TCPDUMP"
	wait "$TCPDUMP" 2>/dev/null || true
	TCPDUMP=
	cp "$TMP/$name.pcap" "$HERE/mosquitto-$name.pcap"
	echo "mosquitto-$name.pcap: $(tshark -r "$HERE/mosquitto-$name.pcap" -d "tcp.port==$PORT,mqtt" -Y mqtt 2>/dev/null | wc -l) frames with MQTT"
}

pub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" "$@"; }
sub() { mosquitto_sub -h 127.0.0.1 -p "$PORT" "$@"; }

# One version's session: a subscriber with wildcards and a will, publishes
# at QoS 0/1/2 and retained, an unsubscribe, a failed login.
session() {
	local v=$1
	sub -V "$v" -u alice -P wonderland -i "sub-$v" -q 2 -t "sensors/+/temp" -t "alerts/#" -C 4 -W 10 \
		--will-topic "clients/sub-$v/status" --will-payload offline --will-qos 1 --will-retain >/dev/null &
	local s=$!
	sleep 0.5
	pub -V "$v" -u alice -P wonderland -i "pub0-$v" -q 0 -t sensors/kitchen/temp -m 21.5
	pub -V "$v" -u bob -P builder -i "pub1-$v" -q 1 -t sensors/garage/temp -m 7.25
	pub -V "$v" -u alice -P wonderland -i "pub2-$v" -q 2 -t alerts/door -m open
	pub -V "$v" -u alice -P wonderland -i "ret-$v" -q 1 -r -t alerts/status -m armed
	wait "$s" || true
	# subscribe then unsubscribe (mosquitto_sub -U unsubscribes before exiting)
	sub -V "$v" -u bob -P builder -i "unsub-$v" -t 'sensors/#' -U 'sensors/#' -E >/dev/null || true
	# wrong password: CONNACK 5 (v3) / 0x87 (v5)
	pub -V "$v" -u alice -P wrong -i "bad-$v" -t x -m y 2>/dev/null || true
	# clear the retained message
	pub -V "$v" -u alice -P wonderland -i "clr-$v" -r -n -t alerts/status
}

scenario_v311() { session mqttv311; }
scenario_v5() {
	session mqttv5
	pub -V mqttv5 -u alice -P wonderland -i props-v5 -q 1 -t sensors/lab/temp -m 19 \
		-D publish user-property unit celsius -D publish message-expiry-interval 60 -D publish content-type text/plain
}
scenario_v31() { pub -V mqttv31 -u bob -P builder -i pub-v31 -q 1 -t sensors/old/temp -m 3; }

record v311 lo
record v5 lo
record v31 any
