package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"mqttids/internal/defaults"
	"mqttids/internal/redact"
)

// Config is every setting of mqttids. The yaml tag is the config key, the
// help tag the flag's usage, and the verbs tag the verbs that take the flag
// (empty: replay and run).
type Config struct {
	Rules   []string `yaml:"rules" help:"rule file adding to or overriding built-in rules by id (repeatable)" verbs:"replay,run"`
	Alerts  []string `yaml:"alerts" help:"alert sink: - (stdout), file:PATH, kafka://HOST:PORT[,HOST:PORT]/TOPIC (repeatable)"`
	Ports   []uint16 `yaml:"ports" help:"MQTT ports; MQTT on other ports is recognised from its first CONNECT" verbs:"replay,run,decode"`
	Stats   string   `yaml:"stats" help:"write run statistics as JSON to this file at exit"`
	Quiet   bool     `yaml:"quiet" short:"q" help:"no summary or progress on stderr"`
	Workers int      `yaml:"workers" help:"capture workers: replay hashes flows to N goroutines, run opens N fanout sockets (0 in run: one per CPU); caps are divided over them, and a replay gives the same output for any N unless a cap is hit" verbs:"replay,run,decode"`

	Interface   string `yaml:"interface" help:"network interface to capture on" verbs:"run"`
	MetricsAddr string `yaml:"metrics_addr" help:"serve Prometheus /metrics and /healthz on this address (empty: off)" verbs:"run"`
	LogFormat   string `yaml:"log_format" help:"log format: text or json" verbs:"replay,run"`
	LogLevel    string `yaml:"log_level" help:"log level: debug, info, warn, error" verbs:"replay,run"`

	Capture CaptureConfig `yaml:"capture"`
	Detect  DetectConfig  `yaml:"detect"`
	Output  OutputConfig  `yaml:"output"`
	Block   BlockConfig   `yaml:"block"`
	Health  HealthConfig  `yaml:"health"`
}

// HealthConfig says when /healthz fails besides a sink failing alerts.
// Zero means the default of internal/defaults.
type HealthConfig struct {
	SinkStall    time.Duration `yaml:"sink_stall" help:"/healthz fails while an alert sink has had work (queued or spooled) for this long without delivering anything (0: default 30s, a batch's worst legitimate time)" verbs:"run"`
	CaptureStall time.Duration `yaml:"capture_stall" help:"/healthz fails while the kernel has delivered frames to the capture sockets for this long and none was read (0: default 30s)" verbs:"run"`
}

// CaptureConfig bounds the capture stage. For the port lists nil and empty
// mean the same: the default of internal/defaults (none for WebSocket).
type CaptureConfig struct {
	TLSPorts       []uint16      `yaml:"tls_ports" help:"ports carrying MQTT over TLS: connections counted, not decoded (empty: the default, 8883)" verbs:"replay,run,decode"`
	WebSocketPorts []uint16      `yaml:"websocket_ports" help:"ports carrying MQTT over WebSocket, passed by the eBPF filter (not decoded yet; empty: none)" verbs:"run"`
	MaxFlows       int           `yaml:"max_flows" help:"most TCP flows tracked at once; the oldest idle one is evicted beyond it (0: default)" verbs:"replay,run,decode"`
	MaxFlowBuffer  int           `yaml:"max_flow_buffer" help:"most memory (bytes: buffers plus bookkeeping) held for out-of-order segments per flow direction (0: default)" verbs:"replay,run,decode"`
	MaxBufferTotal int           `yaml:"max_buffer_total" help:"most memory (bytes: buffers plus bookkeeping) held for out-of-order segments over all flows (0: default)" verbs:"replay,run,decode"`
	IdleTimeout    time.Duration `yaml:"idle_timeout" help:"a flow with no packet for this long (packet time) is closed (0: default)" verbs:"replay,run,decode"`
	MaxPacketSize  int           `yaml:"max_packet_size" help:"largest MQTT packet decoded; larger ones are skipped and flagged (0: default)" verbs:"replay,run,decode"`
	BlockSize      int           `yaml:"block_size" help:"AF_PACKET ring block size in bytes (0: default)" verbs:"run"`
	RingSize       int           `yaml:"ring_size" help:"AF_PACKET ring size per worker in bytes (0: default)" verbs:"run"`
	NoEBPF         bool          `yaml:"no_ebpf" help:"do not attach the in-kernel MQTT pre-filter" verbs:"run"`
}

// DetectConfig tunes the behaviour counters.
type DetectConfig struct {
	AllowedNetworks []string `yaml:"allowed_networks" help:"client networks expected to connect (CIDR, repeatable); others raise unexpected-source (empty: off)"`
	MaxSources      int      `yaml:"max_sources" help:"most source addresses tracked; least recently seen evicted beyond it (0: default)"`
	// SilentTimeout: how long an open session may say nothing since CONNECT
	// before it counts in silent_sessions (never more than 1.5x its
	// keep-alive).
	SilentTimeout time.Duration `yaml:"silent_timeout" help:"a session that sends nothing but PINGREQ and receives nothing this long after CONNECT counts as silent (at most 1.5x its keep-alive; 0: default 10s)"`
}

// OutputConfig tunes the sinks.
type OutputConfig struct {
	SpoolDir      string        `yaml:"spool_dir" help:"base directory of the on-disk spools for what a Kafka sink cannot deliver yet, one subfolder per sink; must belong to the user running mqttids and be closed to group and others (empty: /var/lib/mqttids/spool for the service or root, else the user cache directory)"`
	SpoolMaxBytes int64         `yaml:"spool_max_bytes" help:"most bytes spooled per sink (0: default)"`
	KafkaBatch    time.Duration `yaml:"kafka_batch_timeout" help:"Kafka writer batch timeout (0: default 10ms)"`
	KafkaCompress string        `yaml:"kafka_compression" help:"Kafka compression: none, gzip, snappy, lz4, zstd"`
	KafkaTLS      bool          `yaml:"kafka_tls" help:"connect to Kafka over TLS"`
	KafkaSASLMech string        `yaml:"kafka_sasl_mechanism" help:"Kafka SASL mechanism: plain, scram-sha-256, scram-sha-512 (empty: none)"`
	KafkaSASLUser string        `yaml:"kafka_sasl_username" help:"Kafka SASL user name"`
	KafkaSASLPass string        `yaml:"kafka_sasl_password_file" help:"file holding the Kafka SASL password"`
}

// BlockConfig is the dynamic block list and its enforcers.
type BlockConfig struct {
	Allowlist    []string      `yaml:"allowlist" help:"never blocked: CIDR, client_id:ID or username:NAME (repeatable); see also --brokers"`
	Brokers      []string      `yaml:"brokers" flag:"brokers" sep:"," help:"the broker addresses (host or CIDR, comma-separated or repeated); never blocked. Only these: an address answering on an MQTT port is not trusted"`
	MaxEntries   int           `yaml:"max_entries" help:"most entries in the block list (0: default)"`
	MaxTTL       time.Duration `yaml:"max_ttl" help:"cap of the TTL doubling for repeat offenders (0: default)"`
	KafkaTopic   string        `yaml:"kafka" help:"compacted Kafka topic holding the current block list: kafka://HOST:PORT/TOPIC"`
	File         string        `yaml:"file" help:"file rewritten with the current block list, one entry a line"`
	NftFile      string        `yaml:"nft_file" help:"file rewritten as an nftables set definition with element timeouts"`
	DynsecURL    string        `yaml:"dynsec_url" help:"mosquitto dynamic-security control connection: mqtt://HOST:PORT (disables blocked usernames)"`
	DynsecUser   string        `yaml:"dynsec_username" help:"user name for the dynamic-security control connection"`
	DynsecPass   string        `yaml:"dynsec_password_file" help:"file holding the dynamic-security password"`
	XDPInterface string        `yaml:"xdp_interface" help:"attach the XDP drop program for blocked sources to this interface" verbs:"run"`
}

// Default is the configuration with no file and no flags: built-in rules,
// alerts to stdout.
func Default() Config {
	return Config{
		Alerts:    []string{"-"},
		Ports:     defaults.MQTTPorts(),
		Workers:   1,
		LogFormat: "text",
		LogLevel:  "info",
		Capture:   CaptureConfig{TLSPorts: defaults.TLSPorts(), WebSocketPorts: defaults.WebSocketPorts()},
		Health:    HealthConfig{SinkStall: defaults.HealthSinkStall, CaptureStall: defaults.HealthCaptureStall},
	}
}

var (
	lineRE   = regexp.MustCompile(`^line (\d+): `)
	syntaxRE = regexp.MustCompile(`line (\d+): (.*)`)
)

// Load reads a YAML configuration over the defaults. Every unknown key and
// every value of the wrong type is reported, each as PATH:LINE: message.
func Load(path string) (Config, error) {
	cfg := Default()
	if err := decodeFile(path, &cfg); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// decodeFile decodes a YAML file into cfg, rejecting unknown keys, with every
// error as PATH:LINE: message.
func decodeFile(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, 0, len(te.Errors))
			for _, e := range te.Errors {
				if m := lineRE.FindStringSubmatch(e); m != nil {
					errs = append(errs, fmt.Errorf("%s:%s: %s", path, m[1], strings.TrimPrefix(e, m[0])))
				} else {
					errs = append(errs, fmt.Errorf("%s: %s", path, e))
				}
			}
			return errors.Join(errs...)
		}
		if m := syntaxRE.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Validate checks values that a type alone does not; it reports every
// problem at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Ports) == 0 {
		errs = append(errs, errors.New("ports: at least one port is needed"))
	}
	for _, p := range c.Ports {
		if p == 0 {
			errs = append(errs, errors.New("ports: 0 is not a port"))
		}
	}
	if c.Workers < 0 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers: %d is out of range 1..256", c.Workers))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format: %q is not text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.Health.SinkStall < 0 {
		errs = append(errs, fmt.Errorf("health.sink_stall: %v is negative", c.Health.SinkStall))
	}
	if c.Health.CaptureStall < 0 {
		errs = append(errs, fmt.Errorf("health.capture_stall: %v is negative", c.Health.CaptureStall))
	}
	for _, s := range c.Alerts {
		if s != "-" && !strings.HasPrefix(s, "file:") && !strings.HasPrefix(s, "kafka://") {
			errs = append(errs, fmt.Errorf("alerts: %q is not -, file:PATH or kafka://HOST:PORT/TOPIC", redact.URL(s)))
		}
	}
	for _, n := range c.Detect.AllowedNetworks {
		if _, err := parsePrefix(n); err != nil {
			errs = append(errs, fmt.Errorf("detect.allowed_networks: %w", err))
		}
	}
	for _, a := range c.Block.Allowlist {
		if strings.HasPrefix(a, "client_id:") || strings.HasPrefix(a, "username:") {
			continue
		}
		if _, err := parsePrefix(a); err != nil {
			errs = append(errs, fmt.Errorf("block.allowlist: %w (want CIDR, client_id:ID or username:NAME)", err))
		}
	}
	for _, b := range c.Block.Brokers {
		if _, err := parsePrefix(b); err != nil {
			errs = append(errs, fmt.Errorf("block.brokers: %w (want an address or CIDR)", err))
		}
	}
	return errors.Join(errs...)
}

// Prefixes parses CIDRs or bare addresses (as /32 or /128).
func Prefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a network: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or network: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Marshal renders the configuration as YAML (for round trips and for
// printing the effective configuration).
func (c *Config) Marshal() ([]byte, error) {
	return yaml.Marshal(c)
}

// ParsePorts parses "1883,8883".
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a port", f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}
