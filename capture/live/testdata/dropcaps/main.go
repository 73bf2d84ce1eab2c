// Command dropcaps is built by TestDropCapabilities with CGO_ENABLED=0: it
// opens a raw packet socket, drops every capability but CAP_NET_RAW and
// prints what it can still do.
package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"mqttids/capture/live"
)

func main() {
	held, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		fmt.Println("socket before:", err)
		os.Exit(1)
	}
	if err := live.DropCapabilities(unix.CAP_NET_RAW); err != nil {
		fmt.Println("drop:", err)
		os.Exit(1)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Cap") {
			fmt.Println(l)
		}
	}
	// Kept: a new raw socket still opens.
	if fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
		fmt.Println("raw socket after: refused")
	} else {
		fmt.Println("raw socket after: ok")
		unix.Close(fd)
	}
	// Dropped: CAP_NET_BIND_SERVICE, CAP_NET_ADMIN.
	fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 1, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind port 1: refused")
	} else {
		fmt.Println("bind port 1: ok")
	}
	if err := unix.SetsockoptInt(held, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20); err != nil {
		fmt.Println("rcvbufforce: refused")
	} else {
		fmt.Println("rcvbufforce: ok")
	}
}
