package alerts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqttids/block"
)

func TestListFileEnforcer(t *testing.T) {
	dir := t.TempDir()
	plain, nft := filepath.Join(dir, "blocked.txt"), filepath.Join(dir, "blocked.nft")
	enf, err := NewListFileEnforcer(ListFileOptions{Path: plain, NftPath: nft, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := block.New(block.Options{Enforcers: []block.Enforcer{enf}})
	if err != nil {
		t.Fatal(err)
	}
	l.Block(t0, "src_ip", "192.0.2.7", 10*time.Minute, reason)
	l.Block(t0.Add(time.Second), "src_ip", "2001:db8::/64", time.Minute, reason)
	l.Block(t0.Add(2*time.Second), "username", "admin", time.Hour, reason)
	l.Block(t0.Add(3*time.Second), "client_id", "bad id\n%", 5*time.Minute, reason)
	l.Block(t0.Add(4*time.Second), "src_ip", "198.51.100.0/24", 30*time.Second, reason)
	l.Block(t0.Add(5*time.Second), "src_ip", "198.51.100.99", 30*time.Second, reason) // removed below
	l.Remove(t0.Add(6*time.Second), "src_ip", "198.51.100.99")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(plain)
	want := `client_id bad%20id%0A%25 2026-11-22T10:05:03Z
src_ip 192.0.2.7 2026-11-22T10:10:00Z
src_ip 198.51.100.0/24 2026-11-22T10:00:34Z
src_ip 2001:db8::/64 2026-11-22T10:01:01Z
username admin 2026-11-22T11:00:02Z
`
	if string(got) != want {
		t.Errorf("plain list:\n%s\nwant:\n%s", got, want)
	}
	n, _ := os.ReadFile(nft)
	for _, s := range []string{
		"table inet mqttids {", "flush set inet mqttids blocked_v4",
		"\t192.0.2.7 timeout 594s,\n\t198.51.100.0/24 timeout 28s\n",
		"add element inet mqttids blocked_v6 {\n\t2001:db8::/64 timeout 55s\n}",
	} {
		if !strings.Contains(string(n), s) {
			t.Errorf("nft file lacks %q:\n%s", s, n)
		}
	}
	if strings.Contains(string(n), "198.51.100.99") || strings.Contains(string(n), "admin") {
		t.Errorf("nft file holds a removed entry or a username:\n%s", n)
	}
	golden := filepath.Join("testdata", "blocked.nft.golden")
	if *update {
		os.WriteFile(golden, n, 0o644)
	}
	if want, err := os.ReadFile(golden); err != nil || string(want) != string(n) {
		t.Errorf("nft file differs from %s (%v):\n%s", golden, err, n)
	}
	nftCheck(t, nft)
	nftLoad(t, nft, "192.0.2.7 timeout 9m54s", "198.51.100.0/24 timeout 28s")

	// after everything expires the files are empty lists, and still load.
	enf2, _ := NewListFileEnforcer(ListFileOptions{Path: plain, NftPath: nft})
	enf2.Close()
	if b, _ := os.ReadFile(plain); len(b) != 0 {
		t.Errorf("empty list file holds %q", b)
	}
	nftCheck(t, nft)
}

// nftCheck has nft parse and validate the file without applying it.
func nftCheck(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (apt-get install nftables)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nft", "-c", "-f", path).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "Operation not permitted") {
			t.Skipf("nft -c needs CAP_NET_ADMIN: %s", out)
		}
		b, _ := os.ReadFile(path)
		t.Fatalf("nft -c -f: %v\n%s\n%s", err, out, b)
	}
}

// nftLoad loads the file for real in a network namespace of the test's own
// (twice: reloading must work) and checks the set's elements.
func nftLoad(t *testing.T, path string, want ...string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		t.Log("not root or no ip(8): loading in a namespace skipped")
		return
	}
	ns := fmt.Sprintf("mqttids-alerts-%d", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Logf("ip netns add: %v: %s (skipped)", err, out)
		return
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	for i := 0; i < 2; i++ {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("nft -f (load %d): %v: %s", i+1, err, out)
		}
	}
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "list", "set", "inet", "mqttids", "blocked_v4").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("loaded set lacks %q:\n%s", w, out)
		}
	}
}
