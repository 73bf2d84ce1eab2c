// Command capthreads is built by TestDropCapabilitiesEveryBuild with and
// without cgo: it starts extra OS threads, drops every capability but
// CAP_NET_RAW, and prints each thread's effective and permitted sets (they
// are per thread: a drop on one thread only would leave the others
// privileged) and those of a thread started after the drop.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"mqttids/capture/live"
)

func caps(status string) string {
	b, err := os.ReadFile(status)
	if err != nil {
		return "unreadable"
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapPrm:") {
			out = append(out, strings.ReplaceAll(l, "\t", " "))
		}
	}
	return strings.Join(out, " ")
}

func main() {
	// Threads that exist before the drop, parked on locked goroutines.
	const extra = 8
	var started, release sync.WaitGroup
	started.Add(extra)
	release.Add(1)
	for range extra {
		go func() {
			runtime.LockOSThread()
			started.Done()
			release.Wait()
		}()
	}
	started.Wait()
	if err := live.DropCapabilities(unix.CAP_NET_RAW); err != nil {
		fmt.Println("drop:", err)
		os.Exit(1)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	seen := map[string]int{}
	for _, t := range tasks {
		seen[caps(t)]++
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("threads %d\n", len(tasks))
	for _, k := range keys {
		fmt.Printf("%d threads: %s\n", seen[k], k)
	}
	done := make(chan string)
	go func() {
		runtime.LockOSThread()
		done <- caps(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	}()
	fmt.Println("new thread:", <-done)
	release.Done()
}
