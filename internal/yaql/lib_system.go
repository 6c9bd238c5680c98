package yaql

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/pyfmt"
)

func init() {
	// let(a, b, name => v) -> expr: $1, $2 and $name are bound in expr.
	defAny("let", 0, -1, func(c *Call) (any, error) {
		sc := c.scope.Child()
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		for i, a := range args {
			sc.vars[strconv.Itoa(i+1)] = a
		}
		for _, a := range c.named {
			k, err := c.ev.eval(a.key, c.scope)
			if err != nil {
				return nil, err
			}
			v, err := c.ev.eval(a.value, c.scope)
			if err != nil {
				return nil, err
			}
			sc.vars[varKey(keyString(k))] = v
		}
		return sc, nil
	})
	def("with", 0, -1, func(c *Call) (any, error) {
		sc := c.scope.Child()
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		for i, a := range args {
			sc.vars[strconv.Itoa(i+1)] = a
		}
		return sc, nil
	})
	def("unpack", 1, -1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		sc := c.scope.Child()
		if c.Len() == 1 {
			for i, e := range l {
				sc.vars[strconv.Itoa(i+1)] = e
			}
			return sc, nil
		}
		if c.Len()-1 != len(l) {
			return nil, fmt.Errorf("unpack(): cannot unpack %d elements into %d", len(l), c.Len()-1)
		}
		for i := 1; i < c.Len(); i++ {
			name, err := stringArg(c, i)
			if err != nil {
				return nil, err
			}
			sc.vars[varKey(name)] = l[i-1]
		}
		return sc, nil
	})
	// def(name, body) -> expr: name(…) evaluates body with $1, $2… ($ = $1).
	def("def", 2, 2, func(c *Call) (any, error) {
		name, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		if c.Len() != 2 || c.Method {
			return nil, fmt.Errorf("def() takes a name and a body")
		}
		sc := c.scope.Child()
		bodyNode := c.positional[1]
		sc.funcs[name] = &builtin{min: 0, max: -1, anyNamed: true, fn: func(inner *Call) (any, error) {
			args, err := inner.Args()
			if err != nil {
				return nil, err
			}
			// the body sees the definition's scope, so it may call itself
			call := sc.Child()
			for j, a := range args {
				call.vars[strconv.Itoa(j+1)] = a
			}
			for _, a := range inner.named {
				k, err := inner.ev.eval(a.key, inner.scope)
				if err != nil {
					return nil, err
				}
				v, err := inner.ev.eval(a.value, inner.scope)
				if err != nil {
					return nil, err
				}
				call.vars[varKey(keyString(k))] = v
			}
			return inner.ev.eval(bodyNode, call)
		}}
		return sc, nil
	})
	def("assert", 2, 3, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		ok, err := c.Lambda(1)(v)
		if err != nil {
			return nil, err
		}
		if truthy(ok) {
			return v, nil
		}
		msg, has, err := optStringParam(c, 2, "message")
		if err != nil {
			return nil, err
		}
		if !has {
			msg = "Assertion failed"
		}
		return nil, fmt.Errorf("%s", msg)
	}, "message")
	defAny("switch", 0, 0, func(c *Call) (any, error) {
		for _, a := range c.named {
			cond, err := c.ev.eval(a.key, c.scope)
			if err != nil {
				return nil, err
			}
			if truthy(cond) {
				return c.ev.eval(a.value, c.scope)
			}
		}
		return nil, nil
	})
	def("selectCase", 0, -1, func(c *Call) (any, error) {
		for i := 0; i < c.Len(); i++ {
			v, err := c.Arg(i)
			if err != nil {
				return nil, err
			}
			if truthy(v) {
				return int64(i), nil
			}
		}
		return int64(c.Len()), nil
	})
	def("selectAllCases", 0, -1, func(c *Call) (any, error) {
		out := []any{}
		for i := 0; i < c.Len(); i++ {
			v, err := c.Arg(i)
			if err != nil {
				return nil, err
			}
			if truthy(v) {
				out = append(out, int64(i))
			}
		}
		return out, nil
	})
	def("examine", 0, -1, func(c *Call) (any, error) {
		out := []any{}
		for i := 0; i < c.Len(); i++ {
			v, err := c.Arg(i)
			if err != nil {
				return nil, err
			}
			out = append(out, truthy(v))
		}
		return out, nil
	})
	def("switchCase", 1, -1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		n, err := toInt(c, v, "case")
		if err != nil {
			return nil, err
		}
		cases := int64(c.Len() - 1)
		if n >= 0 && n < cases {
			return c.Arg(int(n) + 1)
		}
		if cases == 0 {
			return nil, nil
		}
		return c.Arg(int(cases))
	})
	def("coalesce", 0, -1, func(c *Call) (any, error) {
		for i := 0; i < c.Len(); i++ {
			v, err := c.Arg(i)
			if err != nil || v != nil {
				return v, err
			}
		}
		return nil, nil
	})

	// Booleans and types.
	def("bool", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		return truthy(v), err
	})
	def("isBoolean", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.(bool)
		return ok, err
	})
	def("isInteger", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.(int64)
		return ok, err
	})
	def("isNumber", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		return isNumber(v), err
	})

	// Numbers.
	def("int", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case nil:
			return int64(0), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case int64:
			return x, nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1<<63 {
				return nil, fmt.Errorf("int(): cannot convert %s to an integer", pyfmt.Float(x))
			}
			return int64(x), nil
		case string:
			n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("int(): invalid literal %s", pyfmt.Quote(x))
			}
			return n, nil
		}
		return nil, unsupported(c, v)
	})
	def("float", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case nil:
			return 0.0, nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("float(): invalid literal %s", pyfmt.Quote(x))
			}
			return f, nil
		}
		return nil, unsupported(c, v)
	})
	def("abs", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case int64:
			if x == math.MinInt64 {
				return nil, fmt.Errorf("integer overflow")
			}
			return abs64(x), nil
		case float64:
			return math.Abs(x), nil
		}
		return nil, unsupported(c, v)
	})
	def("sign", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		if !isNumber(v) {
			return nil, unsupported(c, v)
		}
		switch f := toFloat(v); {
		case f > 0:
			return int64(1), nil
		case f < 0:
			return int64(-1), nil
		}
		return int64(0), nil
	})
	def("round", 1, 2, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		nd, err := intParam(c, 1, "ndigits", 0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case int64:
			if nd >= 0 {
				return x, nil
			}
			p := math.Pow(10, float64(-nd))
			return int64(math.RoundToEven(float64(x)/p) * p), nil
		case float64:
			if nd > 308 || nd < -308 {
				return x, nil
			}
			p := math.Pow(10, float64(nd))
			r := math.RoundToEven(x*p) / p
			if math.IsInf(r, 0) || math.IsNaN(r) {
				return x, nil
			}
			return r, nil
		}
		return nil, unsupported(c, v)
	}, "ndigits")
	def("pow", 2, 3, func(c *Call) (any, error) {
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		a, aInt := args[0].(int64)
		b, bInt := args[1].(int64)
		if !isNumber(args[0]) || !isNumber(args[1]) {
			return nil, fmt.Errorf("pow() takes numbers")
		}
		if aInt && bInt && b >= 0 {
			var mod int64
			if len(args) == 3 && args[2] != nil {
				if mod, err = toInt(c, args[2], "modulo"); err != nil {
					return nil, err
				}
				if mod == 0 {
					return nil, fmt.Errorf("pow(): modulo is zero")
				}
			}
			result := int64(1)
			base := a
			for e := b; e > 0; e >>= 1 {
				if err := c.ev.charge(1); err != nil {
					return nil, err
				}
				if e&1 == 1 {
					r, err := arith("*", result, base)
					if err != nil {
						return nil, err
					}
					result = r.(int64)
					if mod != 0 {
						result = pyMod(result, mod)
					}
				}
				if e > 1 {
					bb, err := arith("*", base, base)
					if err != nil {
						return nil, err
					}
					base = bb.(int64)
					if mod != 0 {
						base = pyMod(base, mod)
					}
				}
			}
			return result, nil
		}
		if len(args) == 3 && args[2] != nil {
			return nil, fmt.Errorf("pow(): a modulo needs integer arguments")
		}
		return math.Pow(toFloat(args[0]), toFloat(args[1])), nil
	})
	def("random", 0, 2, func(c *Call) (any, error) {
		if c.Len() == 0 {
			return rand.Float64(), nil
		}
		if c.Len() != 2 {
			return nil, fmt.Errorf("random() takes no arguments or (from, to)")
		}
		from, err := intParam(c, 0, "from", 0)
		if err != nil {
			return nil, err
		}
		to, err := intParam(c, 1, "to", 0)
		if err != nil {
			return nil, err
		}
		if to < from || to-from < 0 {
			return nil, fmt.Errorf("random(): empty range %d..%d", from, to)
		}
		return from + rand.Int64N(to-from+1), nil
	})
	bitOp := func(name string, f func(a, b int64) int64) {
		def(name, 2, 2, func(c *Call) (any, error) {
			a, err := intParam(c, 0, "left", 0)
			if err != nil {
				return nil, err
			}
			b, err := intParam(c, 1, "right", 0)
			if err != nil {
				return nil, err
			}
			return f(a, b), nil
		})
	}
	bitOp("bitwiseAnd", func(a, b int64) int64 { return a & b })
	bitOp("bitwiseOr", func(a, b int64) int64 { return a | b })
	bitOp("bitwiseXor", func(a, b int64) int64 { return a ^ b })
	def("bitwiseNot", 1, 1, func(c *Call) (any, error) {
		a, err := intParam(c, 0, "arg", 0)
		return ^a, err
	})
	shift := func(name string, left bool) {
		def(name, 2, 2, func(c *Call) (any, error) {
			a, err := intParam(c, 0, "value", 0)
			if err != nil {
				return nil, err
			}
			n, err := intParam(c, 1, "bitsNumber", 0)
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, fmt.Errorf("%s(): negative shift count", name)
			}
			if !left {
				if n > 63 {
					n = 63
				}
				return a >> uint(n), nil
			}
			if n > 62 || (a != 0 && (a<<uint(n))>>uint(n) != a) {
				if a == 0 {
					return int64(0), nil
				}
				return nil, fmt.Errorf("integer overflow")
			}
			return a << uint(n), nil
		})
	}
	shift("shiftBitsLeft", true)
	shift("shiftBitsRight", false)

	// json(s) parses a JSON string; a dictionary passes through (Orquesta's json()).
	def("json", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		if d, ok := v.(map[string]any); ok {
			return d, nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("json(): the value is not a string but a %s", typeName(v))
		}
		if err := c.ev.checkString(len(s)); err != nil {
			return nil, err
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("json(): %w", err)
		}
		if dec.More() {
			return nil, fmt.Errorf("json(): extra data after the JSON value")
		}
		return Normalize(out)
	})
}

func pyMod(a, m int64) int64 {
	r := a % m
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}

func newJSONDecoder(s string) *json.Decoder {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec
}
