// Command mqttids is the sensor's binary: replay captures, capture live,
// decode MQTT to JSON lines, list and check rules. It is the only place that
// reads flags, configuration files, signals and the environment; everything
// below it takes option structs (see internal/config and internal/pipeline).
package main
