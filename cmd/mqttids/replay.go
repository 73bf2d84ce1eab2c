package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"mqttids/internal/config"
	"mqttids/internal/pipeline"
)

func newReplayCmd(cfg *config.Config, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay [flags] FILE...",
		Short: "replay pcap/pcapng files (optionally .gz) through detection; packet timestamps are the clock",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			for _, f := range files {
				if _, err := os.Stat(f); err != nil {
					return fmt.Errorf("open capture: %w", err)
				}
			}
			log := newLogger(cfg, stderr)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := pipeline.New(pipeline.Options{Config: *cfg, Stdout: stdout, Logger: log})
			if err != nil {
				return err
			}
			stopBar := startProgress(cfg, stderr, files, s)
			start := time.Now()
			var runErr error
			for _, f := range files {
				if runErr = s.ReplayFile(ctx, f); runErr != nil {
					break
				}
			}
			stopBar()
			closeErr := s.Close()
			st := s.Stats(time.Since(start))
			if cfg.Stats != "" {
				if err := pipeline.WriteStats(cfg.Stats, st); err != nil && runErr == nil {
					runErr = err
				}
			}
			if !cfg.Quiet {
				s.Summary(stderr, st)
			}
			if runErr != nil {
				return runErr
			}
			return closeErr
		},
	}
	config.BindFlags(cmd.Flags(), cfg, "replay")
	return cmd
}

// startProgress shows a progress bar over the captures' total size when
// stderr is a terminal and the run is not quiet; it returns the stop func.
func startProgress(cfg *config.Config, stderr io.Writer, files []string, s *pipeline.Sensor) func() {
	f, ok := stderr.(*os.File)
	if cfg.Quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	var total int64
	for _, name := range files {
		if fi, err := os.Stat(name); err == nil {
			total += fi.Size()
		}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case <-t.C:
				_ = bar.Set64(s.BytesRead())
			}
		}
	}()
	return func() { close(done); <-stopped }
}
