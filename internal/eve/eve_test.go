package eve

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// escapeTests are the escaping rule, byte by byte. The inputs are the
// bytes as they come off the wire (a CONNECT's client id, a topic).
var escapeTests = []struct {
	name string
	in   string
	want string // the JSON text, quotes included
}{
	{"empty", "", `""`},
	{"plain", "sensor-17", `"sensor-17"`},
	{"quote and backslash", "a\"b\\c", `"a\"b\\c"`},
	{"short forms", "\n\r\t", `"\n\r\t"`},
	{"other controls", "\x00\x01\x08\x0c\x1b\x1f", `"\u0000\u0001\u0008\u000c\u001b\u001f"`},
	{"space is not a control", " ", `" "`},
	{"DEL", "a\x7fb", `"a\u007fb"`},
	{"html left alone", "<&>", `"<&>"`},
	{"two-byte", "\xc3\xa9", "\"\xc3\xa9\""},                  // é
	{"three-byte", "\xe2\x82\xac", "\"\xe2\x82\xac\""},        // €
	{"four-byte", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""}, // U+1F600
	{"line separator", "a\xe2\x80\xa8b", `"a\u2028b"`},
	{"paragraph separator", "\xe2\x80\xa9", `"\u2029"`},
	{"next to the separators", "\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\""}, // U+2027, U+202A
	{"invalid byte", "a\xffb", `"a\ufffdb"`},
	{"lone continuation", "\x80", `"\ufffd"`},
	{"truncated sequence", "\xe2\x82", `"\ufffd\ufffd"`},
	{"overlong slash", "\xc0\xaf", `"\ufffd\ufffd"`},
	{"surrogate half", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
	{"above U+10FFFF", "\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`},
	{"invalid at the end", "ok\xf0\x9f\x98", `"ok\ufffd\ufffd\ufffd"`},
	{"mixed", "a\"b\\c\n\x00\x1f\xff<&>\xe2\x80\xa8\xc3\xa9\x7f", `"a\"b\\c\n\u0000\u001f\ufffd<&>\u2028` + "\xc3\xa9" + `\u007f"`},
}

func TestAppendString(t *testing.T) {
	for _, tt := range escapeTests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendString([]byte("x"), tt.in)
			if string(got) != "x"+tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[1:], tt.want)
			}
			if b := AppendBytes(nil, []byte(tt.in)); string(b) != tt.want {
				t.Errorf("AppendBytes(%q) = %s, want %s", tt.in, b, tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("not valid JSON: %s", got[1:])
			}
			var back string
			if err := json.Unmarshal(got[1:], &back); err != nil {
				t.Fatal(err)
			}
			if want := toValidPerByte(tt.in); back != want {
				t.Errorf("round trip %q, want %q", back, want)
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 15, 3, 123456789, time.UTC)
	if got := string(AppendTime(nil, ts)); got != `"2026-11-22T10:15:03.123456+0000"` {
		t.Errorf("UTC: %s", got)
	}
	cet := ts.In(time.FixedZone("CET", 3600))
	if got := string(AppendTime(nil, cet)); got != `"2026-11-22T11:15:03.123456+0100"` {
		t.Errorf("CET: %s", got)
	}
	if got := string(AppendTime(nil, cet.UTC())); got != `"2026-11-22T10:15:03.123456+0000"` {
		t.Errorf("CET as UTC: %s", got)
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	in := escapeTests[len(escapeTests)-1].in
	inb := []byte(in)
	ts := time.Now()
	n := testing.AllocsPerRun(100, func() {
		b := AppendString(buf[:0], in)
		b = AppendBytes(b, inb)
		_ = AppendTime(b, ts)
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

// FuzzAppendString: the output is always valid JSON, and for valid UTF-8
// encoding/json reads back exactly the input; with invalid UTF-8 it reads
// back the input with each bad byte replaced by U+FFFD. String and byte
// forms agree.
func FuzzAppendString(f *testing.F) {
	for _, tt := range escapeTests {
		f.Add(tt.in)
	}
	for _, s := range []string{"dev-17", "\xff\xfe", "\u2028\u2029", "é漢字🙂", "<script>&", "\xef\xbf\xbd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := AppendString(nil, in)
		if !bytes.Equal(out, AppendBytes(nil, []byte(in))) {
			t.Fatalf("string and bytes forms differ for %q", in)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", in, out, err)
		}
		want := in
		if !utf8.ValidString(in) {
			want = toValidPerByte(in)
		}
		if back != want {
			t.Fatalf("round trip of %q gave %q", in, back)
		}
		if bytes.ContainsAny(out, "\x7f\u2028\u2029") {
			t.Fatalf("unescaped DEL or line separator in %s", out)
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("raw control byte in %s", out)
			}
		}
	})
}

// toValidPerByte replaces every invalid byte (not every invalid run, as
// strings.ToValidUTF8 does) with U+FFFD.
func toValidPerByte(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

var benchInputs = []struct{ name, in string }{
	{"ascii", "sensor/building-7/floor-3/temperature"},
	{"escapes", "a\"b\\c\n\x00\x1f<&>\x7f"},
	{"utf8", "capteur/bâtiment-7/étage-3/température"},
	{"invalid", "a\xffb\xfe\xe2\x80\xa8c"},
}

func BenchmarkAppendString(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(in.in)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendString(buf[:0], in.in)
			}
		})
	}
}

func BenchmarkAppendBytes(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			buf, src := make([]byte, 0, 256), []byte(in.in)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendBytes(buf[:0], src)
			}
		})
	}
}

// BenchmarkEncodingJSON is the standard library on the same inputs, for
// comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.in)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(in.in)
			}
		})
	}
}

func BenchmarkAppendTime(b *testing.B) {
	buf, ts := make([]byte, 0, 64), time.Date(2026, 11, 22, 10, 15, 3, 123456789, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTime(buf[:0], ts)
	}
}
