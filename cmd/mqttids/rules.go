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
	var files []string
	list := &cobra.Command{
		Use:   "list",
		Short: "print the built-in rules (the embedded default) as YAML; with --rules, the merged set",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if len(files) == 0 {
				_, err := stdout.Write(rules.Builtin())
				return err
			}
			rs, err := rules.Load(files, rules.LoadOptions{})
			if err != nil {
				return usageError{err}
			}
			b, err := rs.Marshal()
			if err != nil {
				return err
			}
			_, err = stdout.Write(b)
			return err
		},
	}
	list.Flags().StringArrayVar(&files, "rules", nil, "rule file adding to or overriding built-in rules by id (repeatable): print the merged set")
	cmd.AddCommand(list, &cobra.Command{
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
