//go:build unix

package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12 item 8: the spool accepted a directory someone else made and
// followed symbolic links, so a linked segment made root truncate a file it
// pointed to, and a forged segment was published as an alert.

func TestOpenRefusesSymlinkedSegment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious, and no valid frame\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "00000000000000000001.seg")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("a symlinked segment was accepted")
	}
	if !errors.Is(err, ErrInsecureDir) {
		t.Errorf("error %v, want ErrInsecureDir", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious, and no valid frame\n" {
		t.Errorf("the link's target was changed: %q", b)
	}
}

func TestOpenRefusesSymlinkedCursor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), filepath.Join(dir, cursorName+".tmp")); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, Options{}); !errors.Is(err, ErrInsecureDir) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a symlinked cursor.tmp: %v, want ErrInsecureDir", err)
	}
}

// A segment swapped for a link after Open is not followed either.
func TestSegmentOpenDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("x"), 0o600)
	if err := os.Symlink(victim, s.segPath(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(recs(0, 3)); err == nil {
		t.Fatal("appended through a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "x" {
		t.Errorf("victim changed: %q", b)
	}
}

func TestOpenRefusesWorldWritableDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702} {
		dir := filepath.Join(t.TempDir(), "spool")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if !errors.Is(err, ErrInsecureDir) || !strings.Contains(err.Error(), "writable by group or others") {
			if s != nil {
				s.Close()
			}
			t.Errorf("mode %v: %v, want a refusal", mode, err)
		}
	}
}

func TestOpenRefusesDirOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if !errors.Is(err, ErrInsecureDir) || !strings.Contains(err.Error(), "owned by uid 12345") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("%v, want a refusal naming the owner", err)
	}
	// a parent another user owns (it could rename the spool away) too
	parent := filepath.Join(t.TempDir(), "theirs")
	os.Mkdir(parent, 0o755)
	os.Mkdir(filepath.Join(parent, "spool"), 0o700)
	os.Chown(parent, 12345, 12345)
	if s, err := Open(filepath.Join(parent, "spool"), Options{}); !errors.Is(err, ErrInsecureDir) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("parent of another user: %v, want a refusal", err)
	}
}

// A new spool directory is private, and so are its files.
func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "spool")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	r, p, err := s.Peek(1)
	if err != nil || len(r) != 1 {
		t.Fatal(err)
	}
	if err := s.Commit(p, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{dir, filepath.Dir(dir)} {
		fi, _ := os.Stat(f)
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", f, fi.Mode().Perm())
		}
	}
	for _, f := range []string{s.segPath(1), filepath.Join(dir, cursorName)} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func TestDefaultDir(t *testing.T) {
	state := filepath.Join(t.TempDir(), "mqttids")
	// not there, not root: the user's cache
	got, err := defaultDir(state, false)
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := os.UserCacheDir()
	if got != filepath.Join(cache, "mqttids", "spool") {
		t.Errorf("non-root default %s", got)
	}
	if strings.HasPrefix(got, os.TempDir()+"/") && !strings.HasPrefix(cache, os.TempDir()) {
		t.Errorf("default %s is in the shared temporary directory", got)
	}
	// root: the state directory, which Open creates, private
	if got, err = defaultDir(state, true); err != nil || got != filepath.Join(state, "spool") {
		t.Fatalf("root default %s, %v", got, err)
	}
	if _, err := os.Lstat(state); !os.IsNotExist(err) {
		t.Fatalf("defaultDir created %s", state)
	}
	sp, err := Open(got, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v", fi.Mode().Perm())
	}
	// a state directory of another user is not taken as root's
	if os.Geteuid() == 0 {
		other := filepath.Join(t.TempDir(), "mqttids")
		os.Mkdir(other, 0o700)
		os.Chown(other, 12345, 12345)
		if got, _ := defaultDir(other, true); strings.HasPrefix(got, other) {
			t.Errorf("took %s of another user", got)
		}
	}
	// the unit's StateDirectory, owned by the (dynamic) user: used
	if got, err = defaultDir(state, false); err != nil || got != filepath.Join(state, "spool") {
		t.Fatalf("owned state dir: %s, %v", got, err)
	}
}
