package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "scengen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("scengen", flag.ContinueOnError)
	name := fs.String("scenario", "", "scenario to play (see -list)")
	broker := fs.String("broker", "127.0.0.1:1883", "broker address")
	labelsDir := fs.String("labels", "", "write DIR/labels.json for -scenario and exit")
	list := fs.Bool("list", false, "print the scenario names")
	accountsFlag := fs.Bool("accounts", false, "print the broker accounts as 'user password' lines")
	doStretch := fs.Bool("stretch", false, "time-dilate -in into -out (see doc.go)")
	in := fs.String("in", "", "input pcap for -stretch")
	out := fs.String("out", "", "output pcap for -stretch")
	labelsFile := fs.String("labels-file", "", "labels.json naming the attackers for -stretch")
	minGap := fs.Duration("min-gap", time.Second, "-stretch: least time between attacker connections")
	maxGap := fs.Duration("max-gap", 2*time.Second, "-stretch: most time between attacker connections")
	seed := fs.Uint64("seed", 1, "random seed: the parameters of a varied scenario, and -stretch's gaps")
	pcapIn := fs.String("pcap", "", "with -labels: the recording, to find attack_start in")
	duration := fs.Bool("duration", false, "print the longest run of -scenario in whole seconds and exit")
	restartCmd := fs.String("restart-cmd", "", "command the broker-restart scenario runs as 'CMD kill' and 'CMD start' (record.sh passes its own)")
	summary := fs.String("summary", "", "print MQTT packet counts by source and type for a pcap")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*broker)
	if err != nil {
		return fmt.Errorf("broker %q: %w", *broker, err)
	}
	bport, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("broker port %q: %w", port, err)
	}

	switch {
	case *list:
		for _, s := range scenarios(*seed) {
			fmt.Println(s.name)
		}
		return nil
	case *accountsFlag:
		for _, a := range accounts {
			fmt.Println(a.user, a.pass)
		}
		return nil
	case *summary != "":
		return printSummary(*summary, uint16(bport))
	case *doStretch:
		if *in == "" || *out == "" || *labelsFile == "" {
			return fmt.Errorf("-stretch needs -in, -out and -labels-file")
		}
		b, err := os.ReadFile(*labelsFile)
		if err != nil {
			return err
		}
		var l Labels
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("parse %s: %w", *labelsFile, err)
		}
		return stretch(*in, *out, stretchOpts{brokerPort: uint16(bport), attackers: l.Attackers, minGap: *minGap, maxGap: *maxGap, seed: *seed})
	}

	s, ok := findScenario(*name, *seed)
	if !ok {
		return fmt.Errorf("unknown scenario %q (see -list)", *name)
	}
	if *duration {
		fmt.Println(int(s.maxRun().Seconds() + 0.999))
		return nil
	}
	if *labelsDir != "" {
		l, err := s.labelsFor(*broker, *pcapIn, uint16(bport))
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(l, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(*labelsDir, "labels.json"), append(b, '\n'), 0o644)
	}
	e := &env{broker: *broker, host: host, port: port, restartCmd: *restartCmd, logf: func(string, ...any) {}}
	if *verbose {
		e.logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "scengen %s: %s\n", s.name, fmt.Sprintf(f, a...)) }
	}
	if e.pubBin, err = exec.LookPath("mosquitto_pub"); err != nil {
		return fmt.Errorf("need mosquitto_pub (mosquitto-clients): %w", err)
	}
	if e.subBin, err = exec.LookPath("mosquitto_sub"); err != nil {
		return fmt.Errorf("need mosquitto_sub (mosquitto-clients): %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err = s.run(ctx, e)
	e.logf("done in %v", time.Since(start).Round(time.Millisecond))
	return err
}

// printSummary prints "count src type" lines like the tshark check in the README.
func printSummary(path string, brokerPort uint16) error {
	c, err := scanCapture(path, brokerPort)
	if err != nil {
		return err
	}
	names := []string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}
	counts := map[string]int{}
	for _, p := range c.packets {
		src := p.client.Addr().String()
		if !p.fromClient {
			src = "broker->" + src
		}
		k := src + " " + names[p.typ()]
		switch p.typ() {
		case typeCONNACK:
			if len(p.body) >= 2 {
				k += fmt.Sprintf(" code=%#x", p.body[1])
			}
		case typePUBACK:
			if p.version == protocolV5 {
				k += fmt.Sprintf(" reason=%#x", pubackReason(p.body))
			}
		}
		counts[k]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Printf("%s: %d frames, %d MQTT packets, %d connections\n", path, c.frames, len(c.packets), len(c.all))
	for _, k := range keys {
		fmt.Printf("%7d %s\n", counts[k], k)
	}
	var rst int
	for _, f := range c.all {
		if f.rstFromClient {
			rst++
		}
	}
	fmt.Printf("%7d connections reset by the client\n", rst)
	return nil
}
