package live_test

import (
	"context"
	"io"
	"log"
	"sync"

	"mqttids/block"
	"mqttids/bpf"
	"mqttids/capture/live"
)

// The shape of `mqttids run --interface eth1 --workers 2 --xdp-enforce eth0`:
// load the filter, open the group, attach the enforcer, drop capabilities,
// then one goroutine per source until the context ends.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	filter, err := bpf.NewFilter(bpf.FilterOptions{}) // ports 1883, 8883
	if err != nil {
		log.Fatal(err)
	}
	defer filter.Close()
	group, err := live.Open("eth1", live.Options{Workers: 2, Filter: filter})
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
	context.AfterFunc(ctx, func() { group.Close() }) // readers get io.EOF

	var enforcer block.Enforcer
	xdp, err := bpf.NewXDPEnforcer("eth0", bpf.EnforcerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer xdp.Close()
	enforcer = xdp // handed to the block list: Apply(add/remove src_ip)
	_ = enforcer

	// Everything is open: the process needs no capability any more.
	if err := live.DropCapabilities(); err != nil {
		log.Printf("keeping capabilities: %v", err)
	}

	var wg sync.WaitGroup
	for _, src := range group.Sources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				data, ci, err := src.ZeroCopyReadPacketData()
				if err == io.EOF {
					return
				}
				if err != nil {
					log.Print(err)
					return
				}
				_, _ = data, ci // decode → detect, per worker, no locks
			}
		}()
	}
	wg.Wait()
	st := group.Stats()                   // kernel: queued, dropped, freezes
	counts, _ := filter.SourceCounts(nil) // SYN/RST per source
	drops, _ := xdp.Drops()
	log.Print(st, len(counts), drops)
}
