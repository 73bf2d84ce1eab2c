// Package netnstest builds throw-away network namespaces joined by a veth
// pair for the capture and enforcement tests: two namespaces, one veth end
// in each, IPv4 (10.200.N.0/24) and IPv6 (fd00:200:N::/64) addresses that
// exist only inside them. Everything is deleted in t.Cleanup. It needs root
// (CAP_SYS_ADMIN, CAP_NET_ADMIN) and the ip command; New skips the test
// when either is missing.
//
// The gotcha: a namespace belongs to an OS thread, not to a goroutine. Do
// runs its function on a fresh goroutine locked to a thread that is thrown
// away afterwards, so no other goroutine ever runs in the wrong namespace.
// Sockets keep the namespace they were created in: open them inside Do,
// use them anywhere.
package netnstest
