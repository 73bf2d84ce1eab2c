package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// fill sets every leaf of v to a non-zero value so a round trip covers every key.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch p := f.Addr().Interface().(type) {
		case *string:
			*p = "v" + v.Type().Field(i).Name
		case *bool:
			*p = true
		case *int:
			*p = 7 + i
		case *int64:
			*p = int64(1000 + i)
		case *time.Duration:
			*p = time.Duration(i+1) * time.Second
		case *[]string:
			*p = []string{"a" + v.Type().Field(i).Name, "b"}
		case *[]uint16:
			*p = []uint16{1883, uint16(2000 + i)}
		default:
			if f.Kind() == reflect.Struct {
				fill(t, f)
				continue
			}
			t.Fatalf("fill: no case for %s", f.Type())
		}
	}
}

func TestRoundTripEveryKey(t *testing.T) {
	var c Config
	fill(t, reflect.ValueOf(&c).Elem())
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// Load validates; filled strings are not valid values, so decode only.
	got := Default()
	if err := decodeFile(path, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, c)
	}
}

func TestLoadReportsEveryErrorWithLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	src := strings.Join([]string{
		"alerts: [\"-\"]",         // 1
		"workers: lots",           // 2 wrong type
		"colour: blue",            // 3 unknown key
		"capture:",                // 4
		"  idle_timeout: forever", // 5 bad duration
		"  max_flowz: 3",          // 6 unknown key
	}, "\n")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{path + ":2:", path + ":3:", path + ":5:", path + ":6:", "colour", "max_flowz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := Default()
	c.Alerts = []string{"smtp://x"}
	c.LogFormat = "xml"
	c.Detect.AllowedNetworks = []string{"10.0.0.0/33"}
	c.Block.Allowlist = []string{"nonsense", "client_id:ok", "192.0.2.0/24"}
	c.Block.Brokers = []string{"198.51.100.1", "broker.example", "198.51.100.0/24", "10.0.0.0/40"}
	err := c.Validate()
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"alerts:", "log_format:", "allowed_networks:", "allowlist:", `brokers: "broker.example"`, `brokers: "10.0.0.0/40"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "client_id:ok") || strings.Contains(err.Error(), "192.0.2.0/24") ||
		strings.Contains(err.Error(), `"198.51.100.1"`) || strings.Contains(err.Error(), "198.51.100.0/24") {
		t.Errorf("valid allowlist entries reported: %v", err)
	}
}

// TestBrokersFlag: block.brokers is --brokers (not --block-brokers), a
// comma-separated list that may also be repeated.
func TestBrokersFlag(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	BindFlags(fs, &c, "replay")
	if err := fs.Parse([]string{"--brokers", "198.51.100.1,2001:db8::1", "--brokers", "203.0.113.0/28"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"198.51.100.1", "2001:db8::1", "203.0.113.0/28"}; !reflect.DeepEqual(c.Block.Brokers, want) {
		t.Errorf("brokers = %v, want %v", c.Block.Brokers, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	src := "alerts: [\"file:/tmp/a.json\", \"-\"]\nports: [1883]\nworkers: 2\ncapture:\n  max_flows: 10\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	BindFlags(fs, &c, "replay")
	if err := fs.Parse([]string{"--alerts", "kafka://127.0.0.1:9092/a", "--ports", "1884,1885", "--capture-max-flows", "99"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Alerts, []string{"kafka://127.0.0.1:9092/a"}) {
		t.Errorf("alerts = %v", c.Alerts)
	}
	if !reflect.DeepEqual(c.Ports, []uint16{1884, 1885}) {
		t.Errorf("ports = %v", c.Ports)
	}
	if c.Capture.MaxFlows != 99 || c.Workers != 2 {
		t.Errorf("max_flows = %d, workers = %d", c.Capture.MaxFlows, c.Workers)
	}
}

func TestEveryKeyIsAFlag(t *testing.T) {
	c := Default()
	seen := map[string]bool{}
	for _, verb := range []string{"replay", "run", "decode"} {
		fs := pflag.NewFlagSet(verb, pflag.ContinueOnError)
		BindFlags(fs, &c, verb)
		fs.VisitAll(func(f *pflag.Flag) { seen[f.Name] = true })
	}
	var walk func(reflect.Type, string)
	walk = func(t2 reflect.Type, prefix string) {
		for i := 0; i < t2.NumField(); i++ {
			f := t2.Field(i)
			key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, key+".")
				continue
			}
			if f.Tag.Get("help") == "" {
				t.Errorf("%s has no help text", key)
			}
			if !seen[flagNameOf(key, f.Tag)] {
				t.Errorf("config key %s has no flag", key)
			}
		}
	}
	walk(reflect.TypeOf(c), "")
}

func TestExampleConfigIsValid(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "mqttids.example.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the annotated example config is missing: %v", err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}
