package capture

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want Plan
	}{
		{"defaults", Options{}, Plan{Shards: 1, MaxFlows: 1 << 18, MaxBufferTotal: 256 << 20, MaxFlowBuffer: 256 << 10,
			FilterPorts: []uint16{1883, 8883}, AnyPort: true}},
		{"empty lists are defaults", Options{Ports: []uint16{}, TLSPorts: []uint16{}, WebSocketPorts: []uint16{}},
			Plan{Shards: 1, MaxFlows: 1 << 18, MaxBufferTotal: 256 << 20, MaxFlowBuffer: 256 << 10,
				FilterPorts: []uint16{1883, 8883}, AnyPort: true}},
		{"replay workers", Options{Workers: 4, MaxFlows: 1000, MaxBufferTotal: 4 << 20},
			Plan{Shards: 4, MaxFlows: 250, MaxBufferTotal: 1 << 20, MaxFlowBuffer: 256 << 10, FilterPorts: []uint16{1883, 8883}, AnyPort: true}},
		{"live fanout, filtered", Options{Sources: 4, KernelFilter: true, MaxFlows: 1000, Ports: []uint16{1883},
			TLSPorts: []uint16{8883, 443}, WebSocketPorts: []uint16{9001, 443}},
			Plan{Shards: 4, MaxFlows: 250, MaxBufferTotal: 64 << 20, MaxFlowBuffer: 256 << 10,
				FilterPorts: []uint16{1883, 8883, 443, 9001}, AnyPort: false}},
		{"budget never below one flow's", Options{Workers: 2, Sources: 2, MaxFlowBuffer: 1 << 20, MaxBufferTotal: 2 << 20},
			Plan{Shards: 4, MaxFlows: 1 << 16, MaxBufferTotal: 1 << 20, MaxFlowBuffer: 1 << 20, FilterPorts: []uint16{1883, 8883}, AnyPort: true}},
	}
	for _, tt := range tests {
		got, err := NewPlan(tt.o)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(got.FilterPorts, tt.want.FilterPorts) {
			t.Errorf("%s: filter ports = %v, want %v", tt.name, got.FilterPorts, tt.want.FilterPorts)
		}
		got.FilterPorts, tt.want.FilterPorts = nil, nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: plan = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPlanTooFewFlows(t *testing.T) {
	_, err := NewPlan(Options{Sources: 4, Workers: 2, MaxFlows: 7})
	if err == nil || !strings.Contains(err.Error(), "8 shards") {
		t.Fatalf("err = %v, want one naming 8 shards", err)
	}
}
