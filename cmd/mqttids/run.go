package main

import (
	"io"

	"github.com/spf13/cobra"

	"mqttids/internal/config"
)

func newRunCmd(cfg *config.Config, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --interface IFACE [flags]",
		Short: "capture live (AF_PACKET + eBPF) until SIGINT/SIGTERM, then flush",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("run: not implemented yet")
		},
	}
	config.BindFlags(cmd.Flags(), cfg, "run")
	return cmd
}
