// Command eval replays every labelled scenario with the mqttids binary and
// prints expected vs detected categories, false positives and time to the
// first alert (from the labels' attack_start when they have one). It exits
// 1 when a scenario misses an expected category, raises a false positive,
// or alerts later than its detect_within_s budget (LATE in the table).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"mqttids/internal/eval"
)

func main() {
	bin := flag.String("bin", "bin/mqttids", "the mqttids binary")
	flag.Parse()
	root := "testdata/scenarios"
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	scen, err := eval.Load(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(2)
	}
	var results []eval.Result
	failed := false
	for _, s := range scen {
		var out, errb bytes.Buffer
		cmd := exec.Command(*bin, "replay", "-q", s.Pcap())
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "eval: %s: %v\n%s", s.Labels.Name, err, errb.String())
			os.Exit(1)
		}
		alerts, err := eval.ParseAlerts(&out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "eval: %s: %v\n", s.Labels.Name, err)
			os.Exit(1)
		}
		r, err := eval.Score(s, alerts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "eval: %s: %v\n", s.Labels.Name, err)
			os.Exit(1)
		}
		failed = failed || !r.OK()
		results = append(results, r)
	}
	eval.Table(os.Stdout, results)
	if failed {
		os.Exit(1)
	}
}
