// Command synthpcap writes a large synthetic MQTT capture for benchmarks:
// many interleaved MQTT 3.1.1 connections (handshake, CONNECT, CONNACK,
// then mostly small QoS 0 PUBLISH packets), a fraction of the segments
// reordered. The output is a plain pcap (Ethernet, IPv4); not committed.
//
//	go run ./tools/synthpcap -o /tmp/bench.pcap -packets 1000000 -flows 1000 -reorder 0.03
package main

import (
	"flag"
	"fmt"
	"os"

	"mqttids/capture/capturetest"
)

func main() {
	out := flag.String("o", "", "output pcap file (required)")
	packets := flag.Int("packets", 1_000_000, "frames to write")
	flows := flag.Int("flows", 1000, "concurrent MQTT connections")
	reorder := flag.Float64("reorder", 0.03, "fraction of PUBLISH segments swapped with the next one of their flow")
	seed := flag.Uint64("seed", 1, "random seed")
	port := flag.Uint("port", 1883, "broker TCP port")
	rate := flag.Float64("rate", 0, "frames per second of packet time (0: about 95,000)")
	topics := flag.Int("topics", 1, "topics each flow publishes to in turn")
	flag.Parse()
	if *out == "" || *packets <= 0 || *flows <= 0 || *reorder < 0 || *reorder > 1 || *port == 0 || *port > 65535 || *rate < 0 || *topics < 1 {
		fmt.Fprintln(os.Stderr, "usage: synthpcap -o FILE [-packets N] [-flows N] [-reorder F] [-seed N] [-port P] [-rate FRAMES/S] [-topics N]")
		os.Exit(2)
	}
	if err := run(*out, capturetest.SynthOptions{Packets: *packets, Flows: *flows, Reorder: *reorder, Seed: *seed, Port: uint16(*port), Rate: *rate, Topics: *topics}); err != nil {
		fmt.Fprintln(os.Stderr, "synthpcap:", err)
		os.Exit(1)
	}
}

func run(path string, o capturetest.SynthOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := capturetest.WriteSynthetic(f, o); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
