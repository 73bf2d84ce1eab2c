package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"mqttids/capture"
	"mqttids/event"
	"mqttids/internal/config"
	"mqttids/internal/pipeline"
)

func newDecodeCmd(cfg *config.Config, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decode [flags] FILE...",
		Short: "print one JSON line per decoded MQTT control packet (no detection)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := bufio.NewWriterSize(stdout, 64<<10)
			defer w.Flush()
			var line []byte
			h := event.HandlerFunc(func(ev *event.Event) {
				if ev.Kind != event.MQTT && ev.Kind != event.Malformed {
					return
				}
				line = capture.AppendDecodeJSON(line[:0], ev)
				if len(line) == 0 {
					return
				}
				w.Write(line)
			})
			p, err := capture.New(pipeline.CaptureOptions(cfg), h)
			if err != nil {
				return usageError{err}
			}
			for _, f := range files {
				if err := p.ReplayFile(ctx, f); err != nil {
					p.Flush()
					return err
				}
			}
			p.Flush()
			return w.Flush()
		},
	}
	config.BindFlags(cmd.Flags(), cfg, "decode")
	return cmd
}
