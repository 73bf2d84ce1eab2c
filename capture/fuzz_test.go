package capture

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"mqttids/capture/capturetest"
	"mqttids/event"
)

// FuzzParseFrame: any bytes under any accepted link type parse without
// panicking, and a TCP result has a payload inside the frame.
func FuzzParseFrame(f *testing.F) {
	for _, tc := range craftedCases() {
		for _, s := range tc.segs() {
			f.Add(uint16(tc.link), capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: tc.link, VLANs: tc.vlans}, &s))
		}
	}
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		var pi pktInfo
		if parseFrame(layers.LinkType(lt), data, &pi) == parseTCP && len(pi.payload) > 0 {
			if cap(pi.payload) > cap(data) {
				t.Fatal("payload outside the frame")
			}
		}
	})
}

// FuzzReplay: any file content replays without panicking; errors are
// capture errors naming the input.
func FuzzReplay(f *testing.F) {
	files, _ := filepath.Glob("testdata/crafted/*.pcap*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 && filepath.Ext(p) != ".events" {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, workers := range []int{1, 2} {
			p, err := New(Options{Workers: workers, MaxFlows: 4, MaxFlowBuffer: 64, MaxBufferTotal: 256}, event.HandlerFunc(func(ev *event.Event) {
				AppendDecodeJSON(nil, ev)
			}))
			if err != nil {
				t.Fatal(err)
			}
			src, err := NewFileSource(bytes.NewReader(data), "fuzz")
			if err != nil {
				return
			}
			if err := p.RunSource(context.Background(), src); err != nil && !bytes.Contains([]byte(err.Error()), []byte("fuzz")) && !errors.Is(err, context.Canceled) {
				t.Fatalf("error without the file name: %v", err)
			}
			p.Flush()
		}
	})
}
