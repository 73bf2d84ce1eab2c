package rules

import (
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"mqttids/detect"
)

//go:embed builtin.yaml
var builtin []byte

// BuiltinName is the file name errors and Rule.File use for the embedded
// default ruleset.
const BuiltinName = "builtin.yaml"

// Builtin returns the embedded default ruleset (YAML).
func Builtin() []byte { return slices.Clone(builtin) }

// LoadOptions tune Load. The zero value loads the built-in rules first.
type LoadOptions struct {
	// NoBuiltin: load only the given files.
	NoBuiltin bool
}

// Load reads the built-in rules and then files, in order. A rule whose id
// is already loaded overrides it field by field (so `{id: X, enabled:
// false}` disables rule X); a new id adds a rule. Every problem of every
// rule is reported, each as "file:line: message", joined with errors.Join.
func Load(files []string, opts LoadOptions) (*Ruleset, error) {
	l := loader{byID: make(map[string]int)}
	if !opts.NoBuiltin {
		l.parse(BuiltinName, builtin)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			l.errs = append(l.errs, fmt.Errorf("read rules %s: %w", f, err))
			continue
		}
		l.parse(f, b)
	}
	rs := &Ruleset{}
	sids := make(map[int]*Rule)
	for _, raw := range l.rules {
		r, errs := compile(raw)
		l.errs = append(l.errs, errs...)
		if r == nil {
			continue
		}
		if o, ok := sids[r.SID]; ok && r.SID > 0 {
			l.errs = append(l.errs, fmt.Errorf("%s:%d: rule %s: sid %d already used by rule %s (%s:%d)", r.File, r.Line, r.ID, r.SID, o.ID, o.File, o.Line))
			continue
		}
		sids[r.SID] = r
		rs.rules = append(rs.rules, r)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return rs, nil
}

// Check validates rule files (with the built-in rules they override).
func Check(files []string) error {
	_, err := Load(files, LoadOptions{})
	return err
}

type field struct {
	n    *yaml.Node
	file string
}

type rawRule struct {
	id     string
	file   string
	line   int
	fields map[string]field
}

type loader struct {
	rules []*rawRule
	byID  map[string]int
	errs  []error
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

var knownFields = []string{"id", "sid", "rev", "category", "severity", "description", "key", "window",
	"count", "threshold", "condition", "suppress", "action", "target", "ttl", "enabled", "match", "per"}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

func (l *loader) parse(file string, b []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			l.errorf(file, line, "bad yaml: %s", m[2])
		} else {
			l.errs = append(l.errs, fmt.Errorf("%s:1: bad yaml: %w", file, err))
		}
		return
	}
	if len(doc.Content) == 0 {
		return // empty file
	}
	root := doc.Content[0]
	seq := root
	if root.Kind == yaml.MappingNode {
		seq = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			if k.Value == "rules" {
				seq = root.Content[i+1]
			} else {
				l.errorf(file, k.Line, "unknown top-level key %q (want rules)", k.Value)
			}
		}
		if seq == nil {
			l.errorf(file, root.Line, "no rules: list")
			return
		}
	}
	if seq.Kind != yaml.SequenceNode {
		l.errorf(file, seq.Line, "rules must be a list")
		return
	}
	seen := make(map[string]int)
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			l.errorf(file, item.Line, "a rule must be a mapping")
			continue
		}
		raw := &rawRule{file: file, line: item.Line, fields: make(map[string]field)}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if !slices.Contains(knownFields, k.Value) {
				l.errorf(file, k.Line, "unknown field %q", k.Value)
				continue
			}
			if _, dup := raw.fields[k.Value]; dup {
				l.errorf(file, k.Line, "field %q given twice", k.Value)
			}
			raw.fields[k.Value] = field{v, file}
		}
		id, ok := raw.fields["id"]
		if !ok || id.n.Kind != yaml.ScalarNode || id.n.Value == "" {
			l.errorf(file, item.Line, "rule without id")
			continue
		}
		raw.id = id.n.Value
		if prev, dup := seen[raw.id]; dup {
			l.errorf(file, item.Line, "rule %s: id already used at line %d", raw.id, prev)
			continue
		}
		seen[raw.id] = item.Line
		if j, ok := l.byID[raw.id]; ok {
			base := l.rules[j]
			merged := &rawRule{id: raw.id, file: file, line: item.Line, fields: make(map[string]field)}
			for k, f := range base.fields {
				merged.fields[k] = f
			}
			for k, f := range raw.fields {
				merged.fields[k] = f
			}
			l.rules[j] = merged
			continue
		}
		l.byID[raw.id] = len(l.rules)
		l.rules = append(l.rules, raw)
	}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// compile validates raw and compiles its condition; it returns every error.
func compile(raw *rawRule) (*Rule, []error) {
	var errs []error
	r := &Rule{ID: raw.id, File: raw.file, Line: raw.line, Rev: 1, Severity: 2, Threshold: 1,
		Suppress: 10 * time.Minute, Action: "alert", Enabled: true}
	bad := func(f field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: rule %s: %s", f.file, f.n.Line, raw.id, fmt.Sprintf(format, args...)))
	}
	missing := func(name string) {
		errs = append(errs, fmt.Errorf("%s:%d: rule %s: missing %s", raw.file, raw.line, raw.id, name))
	}
	str := func(name string) (string, field, bool) {
		f, ok := raw.fields[name]
		if !ok {
			return "", f, false
		}
		if f.n.Kind != yaml.ScalarNode {
			bad(f, "%s must be a scalar", name)
			return "", f, false
		}
		return f.n.Value, f, true
	}
	integer := func(name string, dst *int) {
		if s, f, ok := str(name); ok {
			v, err := strconv.Atoi(s)
			if err != nil {
				bad(f, "%s: %q is not an integer", name, s)
				return
			}
			*dst = v
		}
	}
	duration := func(name string, dst *time.Duration) bool {
		if s, f, ok := str(name); ok {
			v, err := time.ParseDuration(s)
			if err != nil || v < 0 {
				bad(f, "%s: %q is not a duration (like 30s, 5m, 1h)", name, s)
				return false
			}
			*dst = v
			return true
		}
		return false
	}

	if !idPattern.MatchString(raw.id) {
		bad(raw.fields["id"], "id %q: use lower case letters, digits, '-', '_' and '.'", raw.id)
	}
	if _, ok := raw.fields["sid"]; !ok {
		missing("sid")
	}
	integer("sid", &r.SID)
	if f, ok := raw.fields["sid"]; ok && r.SID <= 0 {
		bad(f, "sid must be positive")
	}
	integer("rev", &r.Rev)
	integer("severity", &r.Severity)
	if f, ok := raw.fields["severity"]; ok && (r.Severity < 1 || r.Severity > 3) {
		bad(f, "severity %d: use 1 (high) to 3 (low)", r.Severity)
	}
	if s, f, ok := str("category"); ok {
		r.Category = s
		if r.cat = categoryIndex(s); r.cat < 0 {
			bad(f, "unknown category %q (one of %s)", s, strings.Join(categories, ", "))
		}
	} else {
		missing("category")
	}
	if s, _, ok := str("description"); ok {
		r.Description = s
	} else {
		r.Description = raw.id
	}
	if s, f, ok := str("key"); ok {
		k, known := detect.ParseKeyKind(s)
		if !known {
			bad(f, "unknown key %q (src_ip, client_id, username, connection or sensor)", s)
		}
		r.Key = k
	} else {
		missing("key")
	}
	if duration("window", &r.Window) {
		w, err := detect.ParseWindow(r.Window)
		if err != nil {
			bad(raw.fields["window"], "%v", err)
		}
		r.win = w
	} else if _, ok := raw.fields["window"]; !ok {
		missing("window")
	}
	if s, f, ok := str("threshold"); ok {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			bad(f, "threshold %q: want a number >= 0", s)
		}
		r.Threshold = v
	}
	duration("suppress", &r.Suppress)
	if s, f, ok := str("enabled"); ok {
		v, err := strconv.ParseBool(s)
		if err != nil {
			bad(f, "enabled %q: want true or false", s)
		}
		r.Enabled = v
	}
	if s, f, ok := str("action"); ok {
		r.Action = s
		if s != "alert" && s != "block" {
			bad(f, "action %q: want alert or block", s)
		}
	}
	if s, f, ok := str("target"); ok {
		r.Target = s
		if s != "src_ip" && s != "client_id" && s != "username" {
			bad(f, "target %q: want src_ip, client_id or username", s)
		}
	}
	duration("ttl", &r.TTL)
	if r.Action == "block" {
		if r.Target == "" {
			missing("target (action block)")
		}
		if r.TTL <= 0 {
			if f, ok := raw.fields["ttl"]; ok {
				bad(f, "ttl must be positive for action block")
			} else {
				missing("ttl (action block)")
			}
		}
	}

	if f, ok := raw.fields["match"]; ok {
		r.Match = parseMatch(f, bad)
		r.scoped = !r.Match.empty()
	}
	if s, f, ok := str("per"); ok {
		r.Per, r.perBkr = s, s == "broker"
		if s != "broker" {
			bad(f, "per %q: want broker", s)
		}
	}

	// Count and condition.
	countSet := false
	if s, f, ok := str("count"); ok {
		c, known := detect.ParseCounter(s)
		if !known {
			bad(f, "unknown counter %q", s)
		} else {
			r.count, countSet = c, true
			r.gate = true
		}
		r.Count = s
	}
	if s, f, ok := str("condition"); ok {
		r.Condition = s
		prog, counters, tree, names, err := compileCondition(s)
		if err != nil {
			bad(f, "condition: %s", oneLine(err))
		} else {
			r.prog = prog
			r.reads = counters
			for i, n := range envStrings {
				if slices.Contains(names, n) {
					r.vmStrs |= 1 << i
				}
			}
			defer func() { r.native = nativeCondition(tree, r) }() // once threshold and window are final
			for _, c := range counters {
				r.mask |= detect.Set(c)
			}
			if !countSet && len(counters) > 0 {
				r.count, countSet = counters[0], true
				r.Count = counters[0].String()
			}
		}
	}
	if !countSet && r.Count == "" {
		if _, ok := raw.fields["condition"]; !ok {
			missing("count or condition")
		} else if r.prog != nil {
			bad(raw.fields["condition"], "condition names no counter")
		}
	}
	r.mask |= detect.Set(r.count)
	r.ref = detect.Ref(r.count, r.win)
	// A counter the key kind does not keep is always 0: a rule reading it
	// could never fire (or would fire on nothing), so it is an error.
	if r.Key != 0 && countSet {
		check := func(c detect.Counter, f field) {
			if !slices.Contains(c.Info().Keys, r.Key) {
				bad(f, "counter %s is not kept for key %s (only for %s)", c, r.Key, keyList(c.Info().Keys))
			}
		}
		cf, ok := raw.fields["count"]
		if !ok {
			cf = raw.fields["condition"]
		}
		check(r.count, cf)
		for _, c := range r.reads {
			if c != r.count {
				check(c, raw.fields["condition"])
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func keyList(ks []detect.KeyKind) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.String())
	}
	return strings.Join(s, ", ")
}

// parseMatch reads a rule's match: mapping.
func parseMatch(f field, bad func(field, string, ...any)) Match {
	var m Match
	if f.n.Kind != yaml.MappingNode {
		bad(f, "match must be a mapping (src_networks, not_src_networks, brokers, dest_ports)")
		return m
	}
	for i := 0; i+1 < len(f.n.Content); i += 2 {
		k, v := f.n.Content[i], f.n.Content[i+1]
		var items []*yaml.Node
		switch v.Kind {
		case yaml.SequenceNode:
			items = v.Content
		case yaml.ScalarNode:
			items = []*yaml.Node{v}
		default:
			bad(field{v, f.file}, "match %s: want a list", k.Value)
			continue
		}
		for _, it := range items {
			fi := field{it, f.file}
			if it.Kind != yaml.ScalarNode {
				bad(fi, "match %s: want scalars", k.Value)
				continue
			}
			switch k.Value {
			case "src_networks", "not_src_networks", "brokers":
				p, err := parseNetwork(it.Value)
				if err != nil {
					bad(fi, "match %s: %q is not an address or CIDR network", k.Value, it.Value)
					continue
				}
				switch k.Value {
				case "src_networks":
					m.SrcNetworks = append(m.SrcNetworks, p)
				case "not_src_networks":
					m.NotSrcNetworks = append(m.NotSrcNetworks, p)
				default:
					m.Brokers = append(m.Brokers, p)
				}
			case "dest_ports":
				n, err := strconv.Atoi(it.Value)
				if err != nil || n < 1 || n > 65535 {
					bad(fi, "match dest_ports: %q is not a port", it.Value)
					continue
				}
				m.DestPorts = append(m.DestPorts, uint16(n))
			default:
				bad(field{k, f.file}, "match: unknown key %q (src_networks, not_src_networks, brokers, dest_ports)", k.Value)
			}
		}
	}
	return m
}

// inNetwork is in_network for the VM: the address text and a CIDR network
// or address. The native evaluator parses the network once at load.
func inNetwork(params ...any) (any, error) {
	a, _ := params[0].(string)
	n, _ := params[1].(string)
	p, err := parseNetwork(n)
	if err != nil {
		return nil, fmt.Errorf("in_network: %q is not a network", n)
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return false, nil
	}
	return p.Contains(addr.Unmap()), nil
}

// compileCondition compiles s against Env (once, at load) and lists the
// counters it names, in order of appearance, and every name it uses. It
// rejects conditions that could never (or always) fire for a reason the
// author did not mean: a bad literal network, an unguarded division, a
// run-time failure on zero or unit counters.
func compileCondition(s string) (prog *vm.Program, counters []detect.Counter, tree ast.Node, names []string, err error) {
	prog, counters, tree, names, err = compileExpr(s)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := lintCondition(prog, tree); err != nil {
		return nil, nil, nil, nil, err
	}
	return prog, counters, tree, names, nil
}

// compileExpr parses and compiles s against Env.
func compileExpr(s string) (prog *vm.Program, counters []detect.Counter, tree ast.Node, names []string, err error) {
	t, err := parser.Parse(s)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	v := &identVisitor{}
	ast.Walk(&t.Node, v)
	for _, name := range v.names {
		if c, ok := detect.ParseCounter(name); ok && !slices.Contains(counters, c) {
			counters = append(counters, c)
		}
	}
	// now() would read the wall clock: rules must give the same result in
	// a replay as live.
	prog, err = expr.Compile(s, expr.Env(&Env{}), expr.AsBool(), expr.DisableBuiltin("now"),
		expr.Function("in_network", inNetwork, new(func(string, string) bool)))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return prog, counters, t.Node, v.names, nil
}

// lintCondition finds what compiles but cannot work.
func lintCondition(prog *vm.Program, root ast.Node) error {
	// A literal network that does not parse is a load error, not a
	// run-time one.
	var bad error
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		if c, ok := (*n).(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == "in_network" && len(c.Arguments) == 2 {
				if sn, ok := c.Arguments[1].(*ast.StringNode); ok {
					if _, err := parseNetwork(sn.Value); err != nil && bad == nil {
						bad = fmt.Errorf("in_network: %q is not an address or CIDR network", sn.Value)
					}
				}
			}
		}
	}))
	if bad != nil {
		return bad
	}
	if err := divisionGuard(root); err != nil {
		return err
	}
	// Type checks pass conditions that still fail at run time (an int
	// modulo by a zero counter, expr's int-typed max of an int and a
	// float); every counter is 0 before traffic, so run it once on zeros
	// and once on ones: a condition that errors would never fire.
	var probe vm.VM
	zero, ones := &Env{}, &Env{}
	var f [detect.NumCounters]*float64
	if err := bindEnv(ones, &f); err == nil {
		for _, p := range f {
			*p = 1
		}
	}
	ones.Threshold, ones.WindowS, ones.ClientID, ones.Username, ones.SrcIP = 1, 30, "c", "u", "192.0.2.1"
	for _, env := range []*Env{zero, ones} {
		if _, err := probe.Run(prog, env); err != nil {
			return fmt.Errorf("fails at run time (it would never fire): %w", err)
		}
	}
	return nil
}

// divisionGuard rejects a division (or modulo) by an expression of
// counters that is not guarded by max(..., positive literal): counters are
// 0 at first and often after, x/0 is +Inf or NaN, and a comparison with it
// fires on nothing or on everything.
func divisionGuard(root ast.Node) error {
	var err error
	ast.Walk(&root, visitFunc(func(n *ast.Node) {
		b, ok := (*n).(*ast.BinaryNode)
		if !ok || (b.Operator != "/" && b.Operator != "%") || err != nil {
			return
		}
		if guarded(b.Right) || !namesCounter(b.Right) {
			return
		}
		d := b.Right.String()
		err = fmt.Errorf("division by %s, which can be 0 (the result is then Inf or NaN): write max(%s, 1)", d, d)
	}))
	return err
}

// guarded: max(..., N) with a literal N > 0 among its arguments.
func guarded(n ast.Node) bool {
	var args []ast.Node
	switch c := n.(type) {
	case *ast.BuiltinNode:
		if c.Name == "max" {
			args = c.Arguments
		}
	case *ast.CallNode:
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == "max" {
			args = c.Arguments
		}
	}
	for _, a := range args {
		switch l := a.(type) {
		case *ast.IntegerNode:
			if l.Value > 0 {
				return true
			}
		case *ast.FloatNode:
			if l.Value > 0 {
				return true
			}
		}
	}
	return false
}

func namesCounter(n ast.Node) bool {
	found := false
	ast.Walk(&n, visitFunc(func(x *ast.Node) {
		if id, ok := (*x).(*ast.IdentifierNode); ok {
			if _, ok := detect.ParseCounter(id.Value); ok {
				found = true
			}
		}
	}))
	return found
}

type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

type identVisitor struct{ names []string }

func (v *identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		v.names = append(v.names, id.Value)
	}
}
