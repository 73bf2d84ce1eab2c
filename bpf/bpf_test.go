package bpf

import (
	"net/netip"
	"testing"
)

func TestParseBlockValue(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "10.0.0.1", want: "10.0.0.1/32"},
		{in: "10.0.0.77/24", want: "10.0.0.0/24"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "2001:db8::ff/64", want: "2001:db8::/64"},
		{in: "::ffff:192.0.2.9", want: "192.0.2.9/32"},
		{in: "::ffff:192.0.2.0/120", want: "192.0.2.0/24"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "fe80::1%eth0", wantErr: true},
		{in: "10.0.0.1/33", wantErr: true},
		{in: "client-7", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBlockValue(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseBlockValue(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseBlockValue(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestLPMKeyRoundTrip(t *testing.T) {
	tests := []struct {
		prefix   string
		wantBits uint32
	}{
		{"10.1.0.0/16", 96 + 16},
		{"10.1.2.3/32", 128},
		{"0.0.0.0/0", 96},
		{"2001:db8::/32", 32},
		{"::/0", 0},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		bits, addr := lpmKey(p)
		if bits != tt.wantBits {
			t.Errorf("lpmKey(%s) bits = %d, want %d", p, bits, tt.wantBits)
		}
		if got := keyPrefix(bits, addr); got != p {
			t.Errorf("keyPrefix(lpmKey(%s)) = %s", p, got)
		}
	}
}

func TestAttachModeString(t *testing.T) {
	for m, want := range map[AttachMode]string{AttachAuto: "auto", AttachXDPDriver: "xdp-driver", AttachXDPGeneric: "xdp-generic", AttachTC: "tc", 9: "AttachMode(9)"} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(m), got, want)
		}
	}
}
