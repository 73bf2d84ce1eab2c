package dynsec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReplayBruteForceDisablesUser: `mqttids replay` of the recorded brute
// force against user name "admin", with a rule that blocks the user name and
// the dynamic-security enforcer configured, disables "admin" on a real
// mosquitto: its next CONNECT is refused while another user still connects.
func TestReplayBruteForceDisablesUser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs mosquitto")
	}
	b := startMosquittoAdmin(t, "dsadmin", "admin", "operator")
	if err := connectV3(t, b.port, "admin"); err != nil {
		t.Fatalf("admin cannot connect before the replay: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mqttids")
	build := exec.Command("go", "build", "-o", bin, "mqttids/cmd/mqttids")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rules := filepath.Join(dir, "user-block.yaml")
	os.WriteFile(rules, []byte(`rules:
  - id: user-bruteforce-block
    sid: 2399001
    rev: 1
    category: auth-bruteforce
    severity: 1
    description: brute force against one user name (blocks the user)
    key: username
    window: 30s
    count: auth_failures
    threshold: 10
    suppress: 10m
    action: block
    target: username
    ttl: 10m
`), 0o600)
	pass := filepath.Join(dir, "dynsec.pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	out, err := exec.Command(bin, "replay", "-q", "--rules", rules,
		"--block-dynsec-url", "mqtt://127.0.0.1:"+strconv.Itoa(b.port), "--block-dynsec-username", "dsadmin", "--block-dynsec-password-file", pass,
		"../../testdata/scenarios/bruteforce/input.pcap").CombinedOutput()
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"op":"add","target":"username","value":"admin"`) {
		t.Fatalf("no username block event:\n%s", out)
	}
	if strings.Contains(string(out), adminPass) {
		t.Fatal("the dynsec password appears in the output")
	}
	if err := connectV3(t, b.port, "admin"); err == nil || !strings.Contains(err.Error(), "not authorised") {
		t.Fatalf("admin still connects after the block: %v", err)
	}
	if err := connectV3(t, b.port, "operator"); err != nil {
		t.Fatalf("operator refused: %v", err)
	}
}
