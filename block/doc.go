// Package block is the dynamic block list and its policy: which values
// (a source address or network, a client id, a user name) are blocked, for
// how long, and which are never blocked. It is a leaf: the rules engine
// asks it to block, the enforcers (package alerts for Kafka, list files and
// Mosquitto's dynamic security; package bpf for the XDP drop map) implement
// its Enforcer, and the alert sinks receive its Events through Emitter.
//
// What it owns:
//   - List: TTLs on packet time (Tick), escalation for repeat offenders
//     (the TTL doubles per strike within RepeatWindow, up to MaxTTL), a cap
//     on active entries (refused and counted beyond it), and every change
//     as an Event emitted and applied, in order, to each Enforcer.
//   - The allowlist policy: what is never blocked comes only from the
//     configuration (Options.Allow from --block-allowlist, and
//     Options.Brokers, the operator's broker addresses). Nothing is
//     inferred from the traffic under watch: an address does not become
//     trusted because it answered on port 1883, which anyone can spoof.
//   - ParseAllowlist, the configuration's allowlist syntax.
//
// The one gotcha: a src_ip block refused because the address is inside an
// allowlisted network is also refused for a CIDR that merely overlaps one,
// so a /16 around a broker is never blocked as a whole.
package block
