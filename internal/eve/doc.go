// Package eve is the one encoder of mqttids' JSON lines (Suricata EVE
// style): the string escaping and the timestamp layout shared by the
// alert and block events (package alerts) and the decode lines (package
// capture). Each record's shape and key order stays with its owner; this
// package only writes the pieces that must be the same everywhere.
//
// Everything appends to a caller's buffer and allocates nothing when the
// buffer has room.
//
// The one gotcha: the escaping differs from encoding/json on purpose. It
// leaves <, > and & alone (EVE does, and the lines are not HTML) but
// escapes DEL, which encoding/json passes through; like encoding/json it
// escapes U+2028 / U+2029 and writes invalid UTF-8 as U+FFFD. Any JSON
// reader gives back the input when the input was valid UTF-8.
package eve
