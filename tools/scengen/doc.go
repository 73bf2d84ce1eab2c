// Command scengen drives the recorded attack scenarios of mqttids: real MQTT
// clients (paho.golang for v5, mosquitto_pub/mosquitto_sub for v3.1.1, and
// hand-written bytes for what no library will send) against a real
// mosquitto, each bound to its own loopback source address so the labels can
// name benign clients (127.0.0.10–49, plus 127.0.1.1–40 and 127.0.2.10–19
// for the varied scenarios) and attackers (127.0.0.66–99).
//
// testdata/scenarios/record.sh starts the broker and tcpdump and calls
//
//	scengen -scenario NAME -seed N [-broker 127.0.0.1:1883] [-restart-cmd CMD]
//	scengen -scenario NAME -seed N -labels DIR [-pcap DIR/input.pcap]
//
// The varied scenarios (varied.go) draw their parameters from -seed and
// write seed and values into the labels; -pcap adds attack_start, found in
// the finished recording. -restart-cmd is how benign-broker-restart kills
// and restarts the broker ("CMD kill", "CMD start"; record.sh passes its
// own control script). scengen also owns the post-processing and the
// checks of the recordings:
//
//	scengen -stretch -in RAW.pcap -out input.pcap -labels-file labels.json
//	scengen -summary FILE.pcap
//	scengen -scenario NAME -seed N -duration   (timeout for one run, in seconds)
//	scengen -accounts            (user password lines for the broker's password file)
//	scengen -list                (scenario names)
//
// The flood and fleet clients of the varied scenarios write raw MQTT:
// paho sends one packet per write, far too slow for 10,000 PUBLISHes in
// 50 ms.
//
// The one gotcha: -stretch moves whole TCP connections in time and keeps
// the spacing inside each one. That is only faithful when benign clients
// talk in short sessions (scenario field session), because a long-lived
// connection would keep its original, now too short, length while the
// traffic around it spreads out.
package main
