package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// BindFlags registers one flag per configuration key taken by verb, bound to
// the fields of c, with c's current values as defaults. Parsing the flags
// therefore overrides exactly the keys given on the command line.
func BindFlags(fs *pflag.FlagSet, c *Config, verb string) {
	bind(fs, reflect.ValueOf(c).Elem(), "", verb)
}

// FlagName is the flag of a config key: capture.max_flows → capture-max-flows
// (unless the field's flag tag names another, as block.brokers → brokers).
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// flagNameOf is the flag of config key key whose struct field has tag
// (a flag tag overrides the derived name).
func flagNameOf(key string, tag reflect.StructTag) string {
	if n := tag.Get("flag"); n != "" {
		return n
	}
	return FlagName(key)
}

func bind(fs *pflag.FlagSet, v reflect.Value, prefix, verb string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			bind(fs, fv, key, verb)
			continue
		}
		verbs := f.Tag.Get("verbs")
		if verbs == "" {
			verbs = "replay,run"
		}
		if !contains(strings.Split(verbs, ","), verb) {
			continue
		}
		name, usage, short := flagNameOf(key, f.Tag), f.Tag.Get("help"), f.Tag.Get("short")
		switch p := fv.Addr().Interface().(type) {
		case *string:
			fs.StringVarP(p, name, short, *p, usage)
		case *bool:
			fs.BoolVarP(p, name, short, *p, usage)
		case *int:
			fs.IntVarP(p, name, short, *p, usage)
		case *int64:
			fs.Int64VarP(p, name, short, *p, usage)
		case *time.Duration:
			fs.DurationVarP(p, name, short, *p, usage)
		case *[]string:
			if f.Tag.Get("sep") == "," {
				fs.StringSliceVarP(p, name, short, *p, usage)
			} else {
				fs.StringArrayVarP(p, name, short, *p, usage)
			}
		case *[]uint16:
			fs.VarP(&portsValue{p: p}, name, short, usage)
		default:
			panic(fmt.Sprintf("config: no flag type for %s (%T)", key, p))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// portsValue is a comma-separated port list flag ("1883,8883"); given once
// it replaces the configured list.
type portsValue struct {
	p       *[]uint16
	changed bool
}

func (v *portsValue) String() string {
	if v.p == nil {
		return ""
	}
	s := make([]string, len(*v.p))
	for i, p := range *v.p {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

func (v *portsValue) Set(s string) error {
	ports, err := ParsePorts(s)
	if err != nil {
		return err
	}
	if !v.changed {
		*v.p = nil
		v.changed = true
	}
	*v.p = append(*v.p, ports...)
	return nil
}

func (v *portsValue) Type() string { return "ports" }
