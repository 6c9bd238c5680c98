package yaql

import (
	"fmt"
	"math"
	"strings"
)

func init() {
	// list(a, b, …) is [a, b, …]; toList() turns a collection into a list.
	def("list", 0, -1, func(c *Call) (any, error) {
		if c.Method {
			return nil, fmt.Errorf("list() is a function; use .toList()")
		}
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		if err := c.ev.checkItems(len(args)); err != nil {
			return nil, err
		}
		return args, nil
	})
	def("toList", 1, 1, func(c *Call) (any, error) { return listArg(c, 0) })
	def("flatten", 1, 1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		var out []any
		var rec func(items []any) error
		rec = func(items []any) error {
			return each(c, items, func(_ int, e any) error {
				if inner, err := toList(e); err == nil {
					return rec(inner)
				}
				var err error
				out, err = c.appendItem(out, e)
				return err
			})
		}
		if err := rec(l); err != nil {
			return nil, err
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	})
	// dict(k => v, …) or dict([[k, v], …]).
	defAny("dict", 0, 1, func(c *Call) (any, error) {
		if c.Method {
			return nil, fmt.Errorf("dict() is a function; use .toDict()")
		}
		out := map[string]any{}
		if c.Len() == 1 {
			if len(c.named) > 0 {
				return nil, fmt.Errorf("dict() takes either pairs or key => value arguments")
			}
			pairs, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			err = each(c, pairs, func(_ int, p any) error {
				kv, err := toList(p)
				if err != nil || len(kv) < 2 {
					return fmt.Errorf("dict(): each item must be a [key, value] pair, not %s", short(p))
				}
				out[keyString(kv[0])] = kv[1]
				return nil
			})
			if err != nil {
				return nil, err
			}
			return out, c.ev.checkItems(len(out))
		}
		if err := c.ev.checkItems(len(c.named)); err != nil {
			return nil, err
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
			out[keyString(k)] = v
		}
		return out, nil
	})
	def("toDict", 2, 3, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		keySel := c.Lambda(1)
		valSel, hasVal := paramLambda(c, 2, "valueSelector")
		out := map[string]any{}
		err = each(c, l, func(_ int, e any) error {
			k, err := keySel(e)
			if err != nil {
				return err
			}
			v := e
			if hasVal {
				if v, err = valSel(e); err != nil {
					return err
				}
			}
			out[keyString(k)] = v
			return nil
		})
		return out, err
	}, "valueSelector")
	def("get", 2, 3, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		k, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		if v, ok := d[keyString(k)]; ok {
			return v, nil
		}
		dflt, _, err := param(c, 2, "default")
		return dflt, err
	}, "default")
	// set() builds a set (a list without duplicates); dict.set(…) returns a
	// copy of a dictionary with keys set.
	defAny("set", 0, -1, func(c *Call) (any, error) {
		if c.Method {
			if d, ok := c.recv.(map[string]any); ok {
				return dictSet(c, d)
			}
			return nil, unsupported(c, c.recv)
		}
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		return distinct(c, args, nil)
	})
	def("toSet", 1, 1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		return distinct(c, l, nil)
	})
	def("keys", 1, 1, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(d))
		for _, k := range sortedKeys(d) {
			out = append(out, k)
		}
		return out, c.ev.charge(len(d))
	})
	def("values", 1, 1, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(d))
		for _, k := range sortedKeys(d) {
			out = append(out, d[k])
		}
		return out, c.ev.charge(len(d))
	})
	def("items", 1, 1, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(d))
		for _, k := range sortedKeys(d) {
			out = append(out, []any{k, d[k]})
		}
		return out, c.ev.charge(len(d))
	})
	def("contains", 2, 2, func(c *Call) (any, error) {
		coll, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		v, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		return c.ev.in(v, coll)
	})
	def("containsKey", 2, 2, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		k, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		_, ok := d[keyString(k)]
		return ok, nil
	})
	def("containsValue", 2, 2, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		v, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		for _, e := range d {
			if eq, err := c.ev.eq(e, v); err != nil || eq {
				return eq, err
			}
		}
		return false, c.ev.charge(len(d))
	})
	def("len", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			return int64(runeLen(x)), nil
		case map[string]any:
			return int64(len(x)), nil
		}
		l, err := toList(v)
		if err != nil {
			return nil, unsupported(c, v)
		}
		return int64(len(l)), nil
	})
	def("count", 1, 1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		return int64(len(l)), nil
	})
	// delete(position, count) on a list, delete(key, …) on a dictionary.
	def("delete", 1, -1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		if d, ok := v.(map[string]any); ok {
			keys, err := c.Args()
			if err != nil {
				return nil, err
			}
			return deleteKeys(d, keys[1:]), nil
		}
		l, err := toList(v)
		if err != nil {
			return nil, unsupported(c, v)
		}
		if c.Len() < 2 || c.Len() > 3 {
			return nil, fmt.Errorf("%s takes a position and an optional count", describeCall(c))
		}
		pos, err := intParam(c, 1, "position", 0)
		if err != nil {
			return nil, err
		}
		count, err := intParam(c, 2, "count", 1)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for i, e := range l {
			i := int64(i)
			if (count >= 0 && !(pos <= i && i < pos+count)) || (count < 0 && i < pos) {
				out = append(out, e)
			}
		}
		return out, c.ev.charge(len(l))
	}, "position", "count")
	def("deleteAll", 2, 2, func(c *Call) (any, error) {
		d, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		keys, err := listArg(c, 1)
		if err != nil {
			return nil, err
		}
		return deleteKeys(d, keys), nil
	})
	def("insert", 3, 3, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pos, err := intParam(c, 1, "position", 0)
		if err != nil {
			return nil, err
		}
		v, err := c.Arg(2)
		if err != nil {
			return nil, err
		}
		return insertMany(c, l, pos, []any{v})
	})
	def("insertMany", 3, 3, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pos, err := intParam(c, 1, "position", 0)
		if err != nil {
			return nil, err
		}
		vs, err := listArg(c, 2)
		if err != nil {
			return nil, err
		}
		return insertMany(c, l, pos, vs)
	})
	def("replaceMany", 3, 4, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pos, err := intParam(c, 1, "position", 0)
		if err != nil {
			return nil, err
		}
		vs, err := listArg(c, 2)
		if err != nil {
			return nil, err
		}
		count, err := intParam(c, 3, "count", 1)
		if err != nil {
			return nil, err
		}
		return replaceItems(c, l, pos, count, vs)
	}, "count")
	def("isList", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.([]any)
		if _, ord := v.(*ordering); ord {
			ok = true
		}
		return ok, err
	})
	def("isDict", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.(map[string]any)
		return ok, err
	})
	def("isSet", 1, 1, func(c *Call) (any, error) {
		_, err := c.Arg(0)
		return false, err
	})
	setOp := func(name string, op func(ev *evaluator, a, b []any) ([]any, error)) {
		def(name, 2, 2, func(c *Call) (any, error) {
			a, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			b, err := listArg(c, 1)
			if err != nil {
				return nil, err
			}
			r, err := op(c.ev, a, b)
			if err != nil {
				return nil, err
			}
			return distinct(c, r, nil)
		})
	}
	setOp("union", func(_ *evaluator, a, b []any) ([]any, error) { return append(append([]any{}, a...), b...), nil })
	setOp("intersect", func(ev *evaluator, a, b []any) ([]any, error) { return ev.filterIn(a, b, true) })
	setOp("difference", func(ev *evaluator, a, b []any) ([]any, error) { return ev.filterIn(a, b, false) })
	setOp("symmetricDifference", func(ev *evaluator, a, b []any) ([]any, error) {
		x, err := ev.filterIn(a, b, false)
		if err != nil {
			return nil, err
		}
		y, err := ev.filterIn(b, a, false)
		return append(x, y...), err
	})
	def("add", 1, -1, func(c *Call) (any, error) {
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		l, err := toList(args[0])
		if err != nil {
			return nil, unsupported(c, args[0])
		}
		return distinct(c, append(append([]any{}, l...), args[1:]...), nil)
	})
	def("remove", 1, -1, func(c *Call) (any, error) {
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		l, err := toList(args[0])
		if err != nil {
			return nil, unsupported(c, args[0])
		}
		r, err := c.ev.filterIn(l, args[1:], false)
		if err != nil {
			return nil, err
		}
		return distinct(c, r, nil)
	})
}

// filterIn keeps the items of a that are (keep) or are not in b.
func (ev *evaluator) filterIn(a, b []any, keep bool) ([]any, error) {
	in := map[string]bool{}
	for _, f := range b {
		k, err := ev.canon(f)
		if err != nil {
			return nil, err
		}
		in[k] = true
	}
	out := []any{}
	for _, e := range a {
		k, err := ev.canon(e)
		if err != nil {
			return nil, err
		}
		if in[k] == keep {
			out = append(out, e)
		}
	}
	return out, nil
}

func dictSet(c *Call, d map[string]any) (any, error) {
	out := make(map[string]any, len(d)+1)
	for k, v := range d {
		out[k] = v
	}
	switch {
	case c.Len() == 3 && len(c.named) == 0:
		k, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		v, err := c.Arg(2)
		if err != nil {
			return nil, err
		}
		out[keyString(k)] = v
	case c.Len() == 2 && len(c.named) == 0:
		r, err := dictArg(c, 1)
		if err != nil {
			return nil, err
		}
		for k, v := range r {
			out[k] = v
		}
	case c.Len() == 1:
		for _, a := range c.named {
			k, err := c.ev.eval(a.key, c.scope)
			if err != nil {
				return nil, err
			}
			v, err := c.ev.eval(a.value, c.scope)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
	default:
		return nil, fmt.Errorf(".set() takes (key, value), (dictionary) or key => value arguments")
	}
	return out, c.ev.checkItems(len(out))
}

func deleteKeys(d map[string]any, keys []any) map[string]any {
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, keyString(k))
	}
	return out
}

func insertMany(c *Call, l []any, pos int64, vs []any) (any, error) {
	if pos < 0 && len(vs) == 1 {
		// list.insert(-1, x) inserts before the last item, as in Python
		if pos += int64(len(l)); pos < 0 {
			pos = 0
		}
	}
	out, err := c.newList(len(l) + len(vs))
	if err != nil {
		return nil, err
	}
	if pos < 0 {
		out = append(out, vs...)
	}
	for i, e := range l {
		if int64(i) == pos {
			out = append(out, vs...)
		}
		out = append(out, e)
	}
	if pos >= int64(len(l)) {
		out = append(out, vs...)
	}
	return out, nil
}

// replaceItems replaces count items from pos (all from pos when count < 0) with vs.
func replaceItems(c *Call, l []any, pos, count int64, vs []any) (any, error) {
	out, err := c.newList(len(l) + len(vs))
	if err != nil {
		return nil, err
	}
	done := false
	for i, e := range l {
		i := int64(i)
		if (count >= 0 && pos <= i && i < pos+count) || (count < 0 && i >= pos) {
			if !done {
				done = true
				out = append(out, vs...)
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// distinct keeps the first of equal items (or of items with equal keys).
func distinct(c *Call, items []any, key func(args ...any) (any, error)) ([]any, error) {
	out := []any{}
	seen := map[string]bool{}
	err := each(c, items, func(_ int, e any) error {
		k := e
		if key != nil {
			var err error
			if k, err = key(e); err != nil {
				return err
			}
		}
		ck, err := c.ev.canon(k)
		if err != nil {
			return err
		}
		if seen[ck] {
			return nil
		}
		seen[ck] = true
		out = append(out, e)
		return nil
	})
	return out, err
}

// canonKey encodes a value so that equal values (1 and 1.0 too) share a key.
func canonKey(v any) string {
	var b strings.Builder
	bud := budget{left: math.MaxInt}
	writeCanon(&b, v, &bud)
	return b.String()
}

// canon is canonKey within the evaluation's step budget.
func (ev *evaluator) canon(v any) (string, error) {
	var b strings.Builder
	bud := budget{left: ev.remaining()}
	writeCanon(&b, v, &bud)
	if err := ev.charge(ev.remaining() - bud.left); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeCanon(b *strings.Builder, v any, bud *budget) {
	if !bud.take() {
		return
	}
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			fmt.Fprintf(b, "n%d;", int64(x))
			return
		}
		fmt.Fprintf(b, "f%v;", x)
	case int64:
		fmt.Fprintf(b, "n%d;", x)
	case string:
		fmt.Fprintf(b, "s%d:%s", len(x), x)
	case bool:
		fmt.Fprintf(b, "n%d;", boolNum(x)) // True == 1 in Python, so they share a key
	case nil:
		b.WriteString("z;")
	case []any:
		fmt.Fprintf(b, "l%d[", len(x))
		for _, e := range x {
			writeCanon(b, e, bud)
		}
		b.WriteString("]")
	case *ordering:
		writeCanon(b, x.items, bud)
	case map[string]any:
		fmt.Fprintf(b, "d%d{", len(x))
		for _, k := range sortedKeys(x) {
			fmt.Fprintf(b, "%d:%s", len(k), k)
			writeCanon(b, x[k], bud)
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "o%T%p;", x, x)
	}
}
