package rules_test

import (
	"fmt"
	"time"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
	"mqttids/rules"
)

type printer struct{}

func (printer) EmitAlert(a *alerts.Alert) {
	fmt.Println(a.Alert.Category, a.Detection.Rule, a.Detection.Key, a.Detection.Count, a.SrcIP)
}
func (printer) EmitBlock(*block.Event) {}

// The wiring: rules (built-in plus files) → engine → detector, which is
// the event.Handler the capture feeds; Flush at the end of input.
func Example() {
	rs, err := rules.Load(nil, rules.LoadOptions{}) // plus --rules files
	if err != nil {
		panic(err)
	}
	eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: printer{}})
	if err != nil {
		panic(err)
	}
	det := detect.New(detect.Options{}, eng)

	// Here the capture would call det.Handle for every event; a simulated
	// brute force instead:
	sim := detecttest.New(det)
	for i := range 12 {
		c := sim.Dial("192.0.2.7")
		c.Connect(fmt.Sprintf("x%d", i), "admin", "guess", 60)
		c.Connack(5)
		c.Close(event.CloseFIN)
		sim.Advance(time.Second)
	}
	det.Flush(sim.Now)
	fmt.Println(eng.Stats().Alerts, "alerts")
	// Output:
	// auth-bruteforce auth-bruteforce {"src_ip":"192.0.2.7"} 10 192.0.2.7
	// 1 alerts
}
