// Package event defines the typed events that flow from capture (packets
// turned into TCP connections and MQTT control packets) to detect
// (behaviour counters). It owns no state; the one gotcha is lifetime: an
// *Event is only valid during the Handler call that receives it.
package event
