package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestReplayToKafkaReadWithKcat: a scenario replayed with --alerts
// kafka://… and a compacted block topic reaches a real Kafka-protocol
// broker (kfake); librdkafka's kcat reads back exactly the alerts the stdout
// sink printed, keyed by source address, and the block topic keyed
// target:value.
func TestReplayToKafkaReadWithKcat(t *testing.T) {
	if testing.Short() {
		t.Skip("needs kcat and a broker")
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed (make test installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "alerts", "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	rules := filepath.Join(dir, "block.yaml")
	os.WriteFile(rules, []byte("rules:\n  - id: auth-bruteforce\n    action: block\n    target: src_ip\n    ttl: 10m\n"), 0o600)
	pcap := filepath.Join(repo, "testdata/scenarios/bruteforce/input.pcap")
	broker := fmt.Sprintf("127.0.0.1:%d", port)

	code, stdout, stderr := run(t, "replay", "-q", "--rules", rules, "--alerts", "-", "--alerts", "kafka://"+broker+"/alerts",
		"--block-kafka", "kafka://"+broker+"/blocks", "--output-spool-dir", filepath.Join(dir, "spool"), pcap)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, stderr)
	}
	want := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(want) < 3 {
		t.Fatalf("too few alerts on stdout: %d", len(want))
	}

	out, err := exec.Command("kcat", "-b", broker, "-t", "alerts", "-C", "-e", "-o", "beginning", "-q", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("kcat line without key: %q", line)
		}
		if !strings.Contains(v, `"src_ip":"`+k+`"`) && !strings.Contains(v, `"value":"`+k+`"`) {
			t.Errorf("key %q is not the source of %s", k, v)
		}
		got = append(got, v)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kafka holds %d records, stdout printed %d:\nkafka:\n%s\nstdout:\n%s", len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	out, err = exec.Command("kcat", "-b", broker, "-t", "blocks", "-C", "-e", "-o", "beginning", "-q", "-Z", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat blocks: %v", err)
	}
	if !bytes.Contains(out, []byte("src_ip:127.0.0.66\t{")) || !bytes.Contains(out, []byte(`"op":"add"`)) {
		t.Fatalf("block topic lacks the attacker's entry:\n%s", out)
	}
}
