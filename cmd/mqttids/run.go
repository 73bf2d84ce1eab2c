package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"mqttids/block"
	"mqttids/bpf"
	"mqttids/capture"
	"mqttids/capture/live"
	"mqttids/internal/config"
	"mqttids/internal/pipeline"
)

func newRunCmd(cfg *config.Config, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --interface IFACE [flags]",
		Short: "capture live (AF_PACKET + eBPF) until SIGINT/SIGTERM, then flush",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Interface == "" {
				return usagef("run: --interface is required")
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			return runLive(cfg, stdout, stderr)
		},
	}
	config.BindFlags(cmd.Flags(), cfg, "run")
	return cmd
}

func runLive(cfg *config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The capture plan, once: the kernel's fanout group shards flows
	// across the sockets and each socket's engine runs unsharded,
	// delivering events at once (a sharded engine batches them, which
	// suits files, not a live link); the caps are divided over the sockets
	// and the filter passes the MQTT, TLS and WebSocket ports.
	sources := cfg.Workers
	if sources <= 0 {
		sources = runtime.GOMAXPROCS(0)
	}
	co := pipeline.CaptureOptions(cfg)
	co.Workers, co.Sources, co.KernelFilter = 1, sources, !cfg.Capture.NoEBPF
	plan, err := capture.NewPlan(co)
	if err != nil {
		return usageError{err}
	}
	// The in-kernel pre-filter: only the plan's ports reach userspace. A
	// kernel that refuses it costs throughput, not correctness (and brings
	// any-port MQTT back).
	var filter *bpf.Filter
	if co.KernelFilter {
		f, err := bpf.NewFilter(bpf.FilterOptions{Ports: plan.FilterPorts})
		if err != nil {
			log.Warn("eBPF socket filter not loaded; capturing unfiltered", "err", err)
			co.KernelFilter = false
		} else {
			filter = f
			defer filter.Close()
		}
	}
	var enforcers []block.Enforcer
	if cfg.Block.XDPInterface != "" {
		x, err := bpf.NewXDPEnforcer(cfg.Block.XDPInterface, bpf.EnforcerOptions{})
		if err != nil {
			return fmt.Errorf("attach XDP enforcer to %s: %w", cfg.Block.XDPInterface, err)
		}
		enforcers = append(enforcers, x) // closed by the block list
	}
	pcfg := *cfg
	pcfg.Workers = 1
	s, err := pipeline.New(pipeline.Options{Config: pcfg, Stdout: stdout, Logger: log, Enforcers: enforcers, Live: true, Capture: &co})
	if err != nil {
		for _, e := range enforcers {
			_ = e.Close()
		}
		return err
	}
	lo := live.Options{Workers: plan.Shards, BlockSize: cfg.Capture.BlockSize, RingSize: cfg.Capture.RingSize}
	if filter != nil {
		lo.Filter = filter
	}
	group, err := live.Open(cfg.Interface, lo)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open capture on %s: %w", cfg.Interface, err)
	}
	defer group.Close()
	// /healthz: frames the kernel put in the rings against frames read.
	s.SetKernelPackets(func() uint64 { k := group.Stats(); return k.Packets + k.Drops })
	var counts []bpf.SourceCount
	s.SetExtraStats(func(st *pipeline.Stats) {
		k := group.Stats()
		if k.Drops > 0 {
			st.DroppedBy["kernel"] += k.Drops
		}
		ks := &pipeline.KernelStats{RingPackets: k.Packets, RingDrops: k.Drops, RingFreezes: k.QueueFreezes}
		if filter != nil {
			if fs, err := filter.Stats(); err == nil {
				ks.FilterSeen, ks.FilterPassed = fs.Seen, fs.Passed
			}
			if c, err := filter.SourceCounts(counts[:0]); err == nil {
				counts = c
				syn := make(map[string]uint64, len(c))
				for _, sc := range c {
					ks.SYN += sc.SYN
					ks.RST += sc.RST
					if sc.SYN > 0 {
						syn[sc.Addr.String()] = sc.SYN
					}
				}
				ks.TopSYN = pipeline.Top(syn, 10)
			}
		}
		st.Kernel = ks
	})

	var srv *http.Server
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = s.Close()
			return usagef("metrics_addr %s: %v", cfg.MetricsAddr, err)
		}
		start := time.Now()
		srv = &http.Server{Handler: pipeline.NewMetricsHandler(
			func() pipeline.Stats { return s.Stats(time.Since(start)) },
			s.Health, s.Collectors()...), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		log.Info("metrics", "addr", ln.Addr().String())
	}
	if err := live.DropCapabilities(); err != nil {
		log.Warn("keeping capabilities", "err", err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := s.Reload(); err != nil {
					log.Error("reload rules", "err", err)
				} else {
					log.Info("rules reloaded")
				}
			}
		}
	}()
	context.AfterFunc(ctx, func() { _ = group.Close() })

	log.Info("capturing", "interface", cfg.Interface, "workers", len(group.Sources()), "ebpf_filter", filter != nil,
		"filter_ports", fmt.Sprint(plan.FilterPorts), "any_port_mqtt", !co.KernelFilter, "max_flows_per_worker", plan.MaxFlows)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(group.Sources()))
	for i, src := range group.Sources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.RunSource(ctx, src); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	closeErr := s.Close()
	st := s.Stats(time.Since(start))
	if srv != nil {
		_ = srv.Close()
	}
	if cfg.Stats != "" {
		if err := pipeline.WriteStats(cfg.Stats, st); err != nil {
			errs = append(errs, err)
		}
	}
	if !cfg.Quiet {
		s.Summary(stderr, st)
	}
	log.Info("stopped", slog.Uint64("packets", st.Packets), slog.Uint64("alerts", st.Alerts))
	return errors.Join(append(errs, closeErr)...)
}
