// Package config is mqttids' one configuration: a YAML file whose every key
// is also a command-line flag (key capture.max_flows is flag
// --capture-max-flows). Only cmd/ reads flags and the environment; the
// packages of the pipeline receive plain option structs built from Config,
// and those that read files (capture files, rule files, alert and password
// files: see docs/architecture.md) get the paths from it. The gotcha: a
// flag given on the command line always wins over the file, and a
// repeatable flag given once replaces the file's whole list.
package config
