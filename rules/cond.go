package rules

import (
	"math"
	"net/netip"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"

	"mqttids/detect"
)

// The native evaluator. expr's VM reads the environment through reflection
// and allocates on every run (BenchmarkCondition: about 500 ns and 3
// allocations for the built-in flood condition), which a condition on the
// PUBLISH path cannot afford. Conditions are therefore also compiled into a
// tree of Go closures over the Observation: counters are read lazily (a
// branch not taken costs nothing) and nothing allocates unless the
// condition turns an address or a topic into text. Only the part of the
// language whose meaning is plain — numbers, booleans, strings, the
// arithmetic, comparison, logical, ternary and string operators, `in` over
// a literal list, max/min/abs and in_network — is compiled; anything else
// stays on the VM. TestNativeMatchesVM and FuzzNativeMatchesVM run both on
// the same inputs and demand the same result.

// evalCtx is what a compiled condition reads.
type evalCtx struct {
	o   *detect.Observation
	win detect.Window
}

type valKind uint8

const (
	vNum valKind = iota + 1
	vBool
	vStr
	vAddr
)

// cval is one compiled sub-expression: exactly one of the functions is set,
// as kind says.
type cval struct {
	kind valKind
	n    func(*evalCtx) float64
	b    func(*evalCtx) bool
	s    func(*evalCtx) string
	a    func(*evalCtx) netip.Addr
	// isInt: expr types this number as int (integer literals and their
	// sums and products); mixed: max or min over ints and floats, whose
	// static type in expr is one while the value may be the other.
	isInt, mixed bool
	// lit is set for literals (constant folding of regexps, prefixes, lists)
	lit    bool
	litN   float64
	litS   string
	litArr []cval // an array literal (only as the right side of `in`)
}

// str returns v as a string-valued function (addresses print as text).
func (v cval) str() func(*evalCtx) string {
	if v.kind == vStr {
		return v.s
	}
	a := v.a
	return func(x *evalCtx) string { return addrText(a(x)) }
}

// nativeCondition compiles node for r, or returns nil when some part of it
// is left to the VM.
func nativeCondition(node ast.Node, r *Rule) func(*evalCtx) bool {
	c := &condCompiler{r: r}
	v, ok := c.compile(node)
	if !ok || v.kind != vBool {
		return nil
	}
	return v.b
}

type condCompiler struct{ r *Rule }

func num(f func(*evalCtx) float64) cval  { return cval{kind: vNum, n: f} }
func boolean(f func(*evalCtx) bool) cval { return cval{kind: vBool, b: f} }

func numLit(v float64) cval {
	return cval{kind: vNum, n: func(*evalCtx) float64 { return v }, lit: true, litN: v}
}

func strLit(s string) cval {
	return cval{kind: vStr, s: func(*evalCtx) string { return s }, lit: true, litS: s}
}

func (c *condCompiler) ident(name string) (cval, bool) {
	if cn, ok := detect.ParseCounter(name); ok {
		return num(func(x *evalCtx) float64 { return x.o.Value(cn, x.win) }), true
	}
	switch name {
	case "threshold":
		return numLit(c.r.Threshold), true
	case "window_s":
		return numLit(c.r.Window.Seconds()), true
	case "protocol_version":
		return num(func(x *evalCtx) float64 { return float64(x.o.Version) }), true
	case "dest_port":
		return num(func(x *evalCtx) float64 { return float64(x.o.Flow.Server.Port()) }), true
	case "src_port":
		return num(func(x *evalCtx) float64 { return float64(x.o.Flow.Client.Port()) }), true
	case "client_id":
		return cval{kind: vStr, s: func(x *evalCtx) string { return x.o.ClientID }}, true
	case "username":
		return cval{kind: vStr, s: func(x *evalCtx) string { return x.o.Username }}, true
	case "malformed_rule":
		return cval{kind: vStr, s: func(x *evalCtx) string { return x.o.MalformedRule }}, true
	case "topic":
		return cval{kind: vStr, s: func(x *evalCtx) string { return string(x.o.Topic) }}, true
	case "filter":
		return cval{kind: vStr, s: func(x *evalCtx) string { return string(x.o.Filter) }}, true
	case "src_ip":
		return cval{kind: vAddr, a: func(x *evalCtx) netip.Addr { return srcIP(x.o) }}, true
	case "dest_ip", "broker":
		return cval{kind: vAddr, a: func(x *evalCtx) netip.Addr { return destIP(x.o) }}, true
	}
	return cval{}, false
}

// srcIP is the client address of the observation (the key's own for a
// src_ip key).
func srcIP(o *detect.Observation) netip.Addr {
	if o.Key.Kind == detect.KeySrcIP {
		return o.Key.Addr
	}
	if o.Flow.Client.IsValid() {
		return o.Flow.Client.Addr().Unmap()
	}
	return netip.Addr{}
}

func destIP(o *detect.Observation) netip.Addr {
	if o.Flow.Server.IsValid() {
		return o.Flow.Server.Addr().Unmap()
	}
	return netip.Addr{}
}

// addrText is how the VM environment shows an address ("" when unknown).
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (c *condCompiler) compile(n ast.Node) (cval, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return c.ident(n.Value)
	case *ast.IntegerNode:
		v := numLit(float64(n.Value))
		v.isInt = true
		return v, true
	case *ast.FloatNode:
		return numLit(n.Value), true
	case *ast.BoolNode:
		v := n.Value
		return boolean(func(*evalCtx) bool { return v }), true
	case *ast.StringNode:
		return strLit(n.Value), true
	case *ast.UnaryNode:
		return c.unary(n)
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.ConditionalNode:
		return c.conditional(n)
	case *ast.BuiltinNode:
		return c.builtin(n.Name, n.Arguments)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			return c.builtin(id.Value, n.Arguments)
		}
	case *ast.ArrayNode:
		var items []cval
		for _, e := range n.Nodes {
			v, ok := c.compile(e)
			if !ok || !v.lit {
				return cval{}, false
			}
			items = append(items, v)
		}
		return cval{litArr: items, lit: true}, true
	}
	return cval{}, false
}

func (c *condCompiler) unary(n *ast.UnaryNode) (cval, bool) {
	v, ok := c.compile(n.Node)
	if !ok {
		return cval{}, false
	}
	switch n.Operator {
	case "!", "not":
		if v.kind != vBool {
			return cval{}, false
		}
		f := v.b
		return boolean(func(x *evalCtx) bool { return !f(x) }), true
	case "-":
		if v.kind != vNum {
			return cval{}, false
		}
		f := v.n
		out := num(func(x *evalCtx) float64 { return -f(x) })
		out.isInt, out.mixed = v.isInt, v.mixed
		return out, true
	case "+":
		if v.kind != vNum {
			return cval{}, false
		}
		return v, true
	}
	return cval{}, false
}

func (c *condCompiler) conditional(n *ast.ConditionalNode) (cval, bool) {
	cond, ok1 := c.compile(n.Cond)
	a, ok2 := c.compile(n.Exp1)
	b, ok3 := c.compile(n.Exp2)
	if !ok1 || !ok2 || !ok3 || cond.kind != vBool || a.kind != b.kind {
		return cval{}, false
	}
	p := cond.b
	switch a.kind {
	case vNum:
		if a.isInt != b.isInt || a.mixed || b.mixed {
			return cval{}, false // expr's type for the result is one of them
		}
		fa, fb := a.n, b.n
		out := num(func(x *evalCtx) float64 {
			if p(x) {
				return fa(x)
			}
			return fb(x)
		})
		out.isInt = a.isInt
		return out, true
	case vBool:
		fa, fb := a.b, b.b
		return boolean(func(x *evalCtx) bool {
			if p(x) {
				return fa(x)
			}
			return fb(x)
		}), true
	}
	return cval{}, false
}

func (c *condCompiler) builtin(name string, args []ast.Node) (cval, bool) {
	switch name {
	case "max", "min":
		if len(args) == 0 {
			return cval{}, false
		}
		var fs []func(*evalCtx) float64
		ints := 0
		for _, a := range args {
			v, ok := c.compile(a)
			if !ok || v.kind != vNum {
				return cval{}, false
			}
			if v.isInt {
				ints++
			}
			if v.mixed {
				ints = -len(args) // mixed stays mixed
			}
			fs = append(fs, v.n)
		}

		// expr keeps the first argument unless a later one is strictly
		// greater (max) or smaller (min); the same here, NaN included.
		isMax := name == "max"
		out := num(func(x *evalCtx) float64 {
			m := fs[0](x)
			for _, f := range fs[1:] {
				v := f(x)
				if (isMax && m < v) || (!isMax && m > v) {
					m = v
				}
			}
			return m
		})
		out.isInt = ints == len(args)
		// expr types max(0, 3.0) as int and then fails on the float where an
		// int-only operation uses it (max(0, 3.0) == 3): such uses stay on
		// the VM, which reports the error.
		out.mixed = ints != 0 && ints != len(args)
		out.isInt = out.isInt && !out.mixed
		return out, true
	case "abs":
		if len(args) != 1 {
			return cval{}, false
		}
		v, ok := c.compile(args[0])
		if !ok || v.kind != vNum {
			return cval{}, false
		}
		f := v.n
		out := num(func(x *evalCtx) float64 {
			if y := f(x); y < 0 {
				return -y
			}
			return f(x)
		})
		out.isInt, out.mixed = v.isInt, v.mixed
		return out, true
	case "in_network":
		if len(args) != 2 {
			return cval{}, false
		}
		a, ok1 := c.compile(args[0])
		p, ok2 := c.compile(args[1])
		if !ok1 || !ok2 || a.kind != vAddr || p.kind != vStr || !p.lit {
			return cval{}, false
		}
		pfx, err := parseNetwork(p.litS)
		if err != nil {
			return cval{}, false // the VM reports it the same way at run time
		}
		f := a.a
		return boolean(func(x *evalCtx) bool { return pfx.Contains(f(x)) }), true
	}
	return cval{}, false
}

// parseNetwork reads a CIDR prefix or a single address.
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (c *condCompiler) binary(n *ast.BinaryNode) (cval, bool) {
	l, ok1 := c.compile(n.Left)
	r, ok2 := c.compile(n.Right)
	if !ok1 || !ok2 {
		return cval{}, false
	}
	switch n.Operator {
	case "&&", "and", "||", "or":
		if l.kind != vBool || r.kind != vBool {
			return cval{}, false
		}
		fl, fr := l.b, r.b
		if n.Operator == "&&" || n.Operator == "and" {
			return boolean(func(x *evalCtx) bool { return fl(x) && fr(x) }), true
		}
		return boolean(func(x *evalCtx) bool { return fl(x) || fr(x) }), true
	case "+", "-", "*", "/", "**", "^", "<", ">", "<=", ">=", "==", "!=", "in":
		if (l.mixed && (r.isInt || r.mixed || r.litArr != nil)) || (r.mixed && (l.isInt || l.mixed)) {
			return cval{}, false
		}
	}
	switch n.Operator {
	case "+", "-", "*", "/", "**", "^":
		if n.Operator == "+" && (l.kind == vStr || l.kind == vAddr) && (r.kind == vStr || r.kind == vAddr) {
			fl, fr := l.str(), r.str()
			return cval{kind: vStr, s: func(x *evalCtx) string { return fl(x) + fr(x) }}, true
		}
		if l.kind != vNum || r.kind != vNum {
			return cval{}, false
		}
		fl, fr := l.n, r.n
		ints := l.isInt && r.isInt
		switch n.Operator {
		case "+":
			v := num(func(x *evalCtx) float64 { return fl(x) + fr(x) })
			v.isInt = ints
			return v, true
		case "-":
			v := num(func(x *evalCtx) float64 { return fl(x) - fr(x) })
			v.isInt = ints
			return v, true
		case "*":
			v := num(func(x *evalCtx) float64 { return fl(x) * fr(x) })
			v.isInt = ints
			return v, true
		case "/":
			return num(func(x *evalCtx) float64 { return fl(x) / fr(x) }), true
		default:
			return num(func(x *evalCtx) float64 { return math.Pow(fl(x), fr(x)) }), true
		}
	case "<", ">", "<=", ">=":
		if l.kind != vNum || r.kind != vNum {
			return cval{}, false
		}
		fl, fr := l.n, r.n
		switch n.Operator {
		case "<":
			return boolean(func(x *evalCtx) bool { return fl(x) < fr(x) }), true
		case ">":
			return boolean(func(x *evalCtx) bool { return fl(x) > fr(x) }), true
		case "<=":
			return boolean(func(x *evalCtx) bool { return fl(x) <= fr(x) }), true
		default:
			return boolean(func(x *evalCtx) bool { return fl(x) >= fr(x) }), true
		}
	case "==", "!=":
		eq, ok := equality(l, r)
		if !ok {
			return cval{}, false
		}
		if n.Operator == "!=" {
			return boolean(func(x *evalCtx) bool { return !eq(x) }), true
		}
		return boolean(eq), true
	case "startsWith", "endsWith", "contains":
		if (l.kind != vStr && l.kind != vAddr) || r.kind != vStr {
			return cval{}, false
		}
		fl, fr := l.str(), r.s
		switch n.Operator {
		case "startsWith":
			return boolean(func(x *evalCtx) bool { return strings.HasPrefix(fl(x), fr(x)) }), true
		case "endsWith":
			return boolean(func(x *evalCtx) bool { return strings.HasSuffix(fl(x), fr(x)) }), true
		default:
			return boolean(func(x *evalCtx) bool { return strings.Contains(fl(x), fr(x)) }), true
		}
	case "matches":
		if (l.kind != vStr && l.kind != vAddr) || r.kind != vStr || !r.lit {
			return cval{}, false
		}
		re, err := regexp.Compile(r.litS)
		if err != nil {
			return cval{}, false
		}
		fl := l.str()
		return boolean(func(x *evalCtx) bool { return re.MatchString(fl(x)) }), true
	case "in":
		if r.litArr == nil {
			return cval{}, false
		}
		switch l.kind {
		case vStr, vAddr:
			set := make(map[string]bool, len(r.litArr))
			for _, it := range r.litArr {
				if it.kind != vStr {
					return cval{}, false
				}
				set[it.litS] = true
			}
			fl := l.str()
			return boolean(func(x *evalCtx) bool { return set[fl(x)] }), true
		case vNum:
			var vals []float64
			for _, it := range r.litArr {
				if it.kind != vNum {
					return cval{}, false
				}
				vals = append(vals, it.litN)
			}
			fl := l.n
			return boolean(func(x *evalCtx) bool {
				v := fl(x)
				for _, w := range vals {
					if v == w {
						return true
					}
				}
				return false
			}), true
		}
	}
	return cval{}, false
}

// equality compiles l == r for two values of one kind (an address against
// a string compares the address's text, as the VM sees it).
func equality(l, r cval) (func(*evalCtx) bool, bool) {
	switch {
	case l.kind == vNum && r.kind == vNum:
		fl, fr := l.n, r.n
		return func(x *evalCtx) bool { return fl(x) == fr(x) }, true
	case l.kind == vBool && r.kind == vBool:
		fl, fr := l.b, r.b
		return func(x *evalCtx) bool { return fl(x) == fr(x) }, true
	case l.kind == vAddr && r.kind == vStr && r.lit:
		return addrEquals(l.a, r.litS), true
	case l.kind == vStr && l.lit && r.kind == vAddr:
		return addrEquals(r.a, l.litS), true
	case (l.kind == vStr || l.kind == vAddr) && (r.kind == vStr || r.kind == vAddr):
		fl, fr := l.str(), r.str()
		return func(x *evalCtx) bool { return fl(x) == fr(x) }, true
	}
	return nil, false
}

// addrEquals compares an address with a literal without printing it: the
// literal is parsed once; text that is not an address's canonical form
// can never equal one.
func addrEquals(f func(*evalCtx) netip.Addr, lit string) func(*evalCtx) bool {
	want, err := netip.ParseAddr(lit)
	if err != nil || want.String() != lit {
		if lit == "" {
			return func(x *evalCtx) bool { return !f(x).IsValid() }
		}
		return func(*evalCtx) bool { return false }
	}
	return func(x *evalCtx) bool { return f(x) == want }
}
