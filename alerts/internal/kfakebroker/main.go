// Command kfakebroker runs an in-memory Kafka broker (franz-go's kfake) on
// 127.0.0.1 for the alerts benchmarks, in a process of its own so the
// broker's CPU and garbage do not count against the sink being measured.
//
//	kfakebroker -port 9092 -topics alerts,blocks
//
// It prints "ready" on stdout once listening and runs until killed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1")
	topics := flag.String("topics", "alerts", "comma-separated topics to create (1 partition each)")
	flag.Parse()
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.SeedTopics(1, strings.Split(*topics, ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
