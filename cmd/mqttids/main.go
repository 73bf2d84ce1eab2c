package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"mqttids/internal/config"
)

// version is set at build time (-ldflags -X main.version=…).
var version = "dev"

// Exit codes of the contract.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks errors that exit 2 (usage or configuration).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs one command line and returns the exit status.
func execute(args []string, stdout, stderr io.Writer) int {
	cfg := config.Default()
	if path, ok := prescanConfig(args); ok {
		c, err := config.Load(path)
		if err != nil {
			fmt.Fprintf(stderr, "mqttids: %v\n", err)
			return exitUsage
		}
		cfg = c
	}
	root := newRoot(&cfg, stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "mqttids: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitRuntime
}

// isCobraUsage recognises cobra's and pflag's own usage errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "bad flag syntax"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// prescanConfig finds --config before the flags are defined, so the file's
// values become the flags' defaults and flags given on the line win.
func prescanConfig(args []string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v, true
		}
	}
	return "", false
}

func newRoot(cfg *config.Config, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mqttids",
		Short: "mqttids — a network intrusion-detection sensor for MQTT",
		Long: `mqttids watches MQTT traffic (live on a span port or from pcap/pcapng files),
reassembles TCP, decodes every MQTT 3.1/3.1.1/5.0 control packet, keeps per-client
behaviour counters and raises Suricata-EVE-style alerts from declarative rules.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("config", "", "YAML configuration file (every flag has a config key)")
	root.AddCommand(
		newReplayCmd(cfg, stdout, stderr),
		newRunCmd(cfg, stdout, stderr),
		newDecodeCmd(cfg, stdout, stderr),
		newRulesCmd(cfg, stdout, stderr),
		&cobra.Command{
			Use:   "version",
			Short: "print the version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				fmt.Fprintf(stdout, "mqttids %s\n", version)
				return nil
			},
		},
	)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root
}

// newLogger builds the structured logger of the configuration; logs go to
// stderr and never carry passwords or payloads (nothing below logs them).
func newLogger(cfg *config.Config, stderr io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}
