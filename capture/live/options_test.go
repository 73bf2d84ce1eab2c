package live

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	var o Options
	o.setDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	want := Options{Workers: runtime.GOMAXPROCS(0), BlockSize: DefaultBlockSize, RingSize: DefaultRingSize,
		BlockTimeout: DefaultBlockTimeout, PollTimeout: DefaultPollTimeout}
	if o != want {
		t.Errorf("defaults = %+v, want %+v", o, want)
	}
}

func TestOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string // every problem is reported
	}{
		{"negative workers", Options{Workers: -1}, []string{"workers -1"}},
		{"block not page multiple", Options{BlockSize: 5000}, []string{"block size 5000"}},
		{"ring smaller than block", Options{BlockSize: 1 << 20, RingSize: 4096}, []string{"ring size 4096"}},
		{"sub-millisecond timeouts", Options{BlockTimeout: time.Microsecond, PollTimeout: time.Microsecond},
			[]string{"block timeout 1µs", "poll timeout 1µs"}},
		{"all at once", Options{Workers: 2000, BlockSize: 100, RingSize: 50},
			[]string{"workers 2000", "block size 100", "ring size 50"}},
	}
	for _, tt := range tests {
		tt.o.setDefaults()
		err := tt.o.validate()
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}
