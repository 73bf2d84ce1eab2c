package defaults

import (
	"slices"
	"testing"
)

func TestUnion(t *testing.T) {
	got := Union([]uint16{1883, 8883}, []uint16{8883, 443}, nil, []uint16{0, 1883})
	if want := []uint16{1883, 8883, 443, 0}; !slices.Equal(got, want) {
		t.Fatalf("Union = %v, want %v", got, want)
	}
	if got := FilterPorts(); !slices.Equal(got, []uint16{1883, 8883}) {
		t.Fatalf("FilterPorts = %v", got)
	}
}

func TestFresh(t *testing.T) {
	MQTTPorts()[0] = 1
	if MQTTPorts()[0] != 1883 {
		t.Fatal("MQTTPorts shares its slice")
	}
}
