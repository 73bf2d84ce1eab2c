// Package redact removes secrets from the URLs the configuration names
// (alert sinks, enforcers) before they are printed: in an error, a log line,
// a sink's or enforcer's name. It is the one place that decides what a secret
// looks like, so every message that echoes a URL goes through URL.
//
// The gotcha: redaction must not fail closed into echoing the input. A string
// that does not parse as a URL is replaced as a whole.
package redact
