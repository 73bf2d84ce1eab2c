package main

import (
	"io"

	"github.com/spf13/cobra"

	"mqttids/internal/config"
	"mqttids/rules"
)

func newRulesCmd(_ *config.Config, stdout, _ io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "list the built-in rules or check rule files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "print the built-in rules (the embedded default) as YAML",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := stdout.Write(rules.Builtin())
			return err
		},
	}, &cobra.Command{
		Use:   "check FILE...",
		Short: "validate rule files: exit 0, or exit 2 with file:line: message for every problem",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			if err := rules.Check(files); err != nil {
				return usageError{err}
			}
			return nil
		},
	})
	return cmd
}
