// Package dynsec enforces username blocks at a Mosquitto broker through its
// dynamic-security plugin: an add of target "username" becomes a
// disableClient command, its removal (TTL ended, or removed by hand) an
// enableClient. Commands are published over MQTT v5 to
// $CONTROL/dynamic-security/v1; replies on $CONTROL/dynamic-security/v1/response
// are matched by correlationData and counted as succeeded or failed.
//
// Apply never blocks: commands wait in a bounded queue (drops counted)
// while a goroutine sends them in order, reconnecting with backoff.
//
// The one gotcha: the plugin has no expiry of its own. A client disabled by
// the sensor stays disabled until the sensor enables it; if the sensor
// stops while entries are active they stay disabled unless
// Options.EnableOnClose is set (or an operator runs
// `mosquitto_ctrl dynsec enableClient NAME`). Blocks on src_ip and
// client_id are not this plugin's business and are ignored.
package dynsec
