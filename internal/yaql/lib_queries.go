package yaql

import (
	"fmt"
)

func init() {
	def("where", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pred := c.Lambda(1)
		out := []any{}
		err = each(c, l, func(_ int, e any) error {
			ok, err := pred(e)
			if err == nil && truthy(ok) {
				out = append(out, e)
			}
			return err
		})
		return out, err
	})
	alias("filter", "where")
	def("select", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		sel := c.Lambda(1)
		out := make([]any, len(l))
		err = each(c, l, func(i int, e any) error {
			v, err := sel(e)
			out[i] = v
			return err
		})
		return out, err
	})
	alias("map", "select")
	def("selectMany", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		sel := c.Lambda(1)
		out := []any{}
		err = each(c, l, func(_ int, e any) error {
			v, err := sel(e)
			if err != nil {
				return err
			}
			if inner, lerr := toList(v); lerr == nil {
				out, err = c.appendItem(out, inner...)
			} else {
				out, err = c.appendItem(out, v)
			}
			return err
		})
		return out, err
	})
	def("skip", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		n, err := intParam(c, 1, "count", 0)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			n = 0
		}
		if n > int64(len(l)) {
			n = int64(len(l))
		}
		return append([]any{}, l[n:]...), nil
	})
	def("limit", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		n, err := intParam(c, 1, "count", 0)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			n = 0
		}
		if n > int64(len(l)) {
			n = int64(len(l))
		}
		return append([]any{}, l[:n]...), nil
	})
	alias("take", "limit")
	def("append", 1, -1, func(c *Call) (any, error) {
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		l, err := toList(args[0])
		if err != nil {
			return nil, unsupported(c, args[0])
		}
		out, err := c.newList(len(l) + len(args) - 1)
		if err != nil {
			return nil, err
		}
		return append(append(out, l...), args[1:]...), nil
	})
	def("distinct", 1, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		key, _ := paramLambda(c, 1, "keySelector")
		return distinct(c, l, key)
	}, "keySelector")
	def("enumerate", 1, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		start, err := intParam(c, 1, "start", 0)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = []any{start + int64(i), e}
		}
		return out, c.ev.charge(len(l))
	}, "start")
	anyAll := func(name string, wantAll bool) {
		def(name, 1, 2, func(c *Call) (any, error) {
			l, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			pred, hasPred := paramLambda(c, 1, "predicate")
			if err := c.ev.charge(len(l)); err != nil {
				return nil, err
			}
			for _, e := range l {
				v := any(true) // any() without a predicate: is there an item at all
				if hasPred {
					if v, err = pred(e); err != nil {
						return nil, err
					}
				} else if wantAll {
					v = e
				}
				if truthy(v) != wantAll {
					return !wantAll, nil
				}
			}
			return wantAll, nil
		}, "predicate")
	}
	anyAll("any", false)
	anyAll("all", true)
	// concat() joins strings when given strings, lists otherwise.
	def("concat", 0, -1, func(c *Call) (any, error) {
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		allStrings := len(args) > 0
		for _, a := range args {
			if _, ok := a.(string); !ok {
				allStrings = false
			}
		}
		if allStrings {
			n := 0
			for _, a := range args {
				n += len(a.(string))
			}
			if err := c.ev.checkString(n); err != nil {
				return nil, err
			}
			var out []byte
			for _, a := range args {
				out = append(out, a.(string)...)
			}
			return string(out), nil
		}
		out := []any{}
		for i, a := range args {
			l, err := toList(a)
			if err != nil {
				return nil, fmt.Errorf("concat(): argument %d: %w", i+1, err)
			}
			if out, err = c.appendItem(out, l...); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	def("sum", 1, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		acc, hasInit, err := param(c, 1, "initial")
		if err != nil {
			return nil, err
		}
		return fold(c, l, acc, hasInit, func(a, b any) (any, error) { return c.ev.plus(a, b) })
	}, "initial")
	// max and min: of a collection (collection.max()) or of two values (max(a, b)).
	minMax := func(name string, wantMax bool) {
		pick := func(a, b any) (any, error) {
			cmp, err := compare(b, a)
			if err != nil {
				return nil, err
			}
			if (cmp > 0) == wantMax && cmp != 0 {
				return b, nil
			}
			return a, nil
		}
		def(name, 1, 2, func(c *Call) (any, error) {
			first, err := c.Arg(0)
			if err != nil {
				return nil, err
			}
			l, lerr := toList(first)
			if c.Method && lerr == nil {
				acc, hasInit, err := param(c, 1, "initial")
				if err != nil {
					return nil, err
				}
				return fold(c, l, acc, hasInit, pick)
			}
			if c.Len() != 2 {
				return nil, fmt.Errorf("%s() takes two values, or is called on a collection as .%s()", name, name)
			}
			second, err := c.Arg(1)
			if err != nil {
				return nil, err
			}
			return pick(first, second)
		}, "initial")
	}
	minMax("max", true)
	minMax("min", false)
	def("first", 1, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		if len(l) > 0 {
			return l[0], nil
		}
		d, ok, err := param(c, 1, "default")
		if err == nil && !ok {
			err = fmt.Errorf("first(): the collection is empty")
		}
		return d, err
	}, "default")
	def("last", 1, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		if len(l) > 0 {
			return l[len(l)-1], nil
		}
		d, ok, err := param(c, 1, "default")
		if err == nil && !ok {
			err = fmt.Errorf("last(): the collection is empty")
		}
		return d, err
	}, "default")
	def("single", 1, 1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		if len(l) != 1 {
			return nil, fmt.Errorf("single(): the collection has %d items, not one", len(l))
		}
		return l[0], nil
	})
	def("range", 1, 3, func(c *Call) (any, error) {
		if c.Method {
			return nil, fmt.Errorf("range() is a function")
		}
		var start, stop, step int64 = 0, 0, 1
		var err error
		if c.Len() == 1 {
			stop, err = intParam(c, 0, "stop", 0)
		} else {
			if start, err = intParam(c, 0, "start", 0); err == nil {
				if stop, err = intParam(c, 1, "stop", 0); err == nil {
					step, err = intParam(c, 2, "step", 1)
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if step == 0 {
			return nil, fmt.Errorf("range(): step must not be zero")
		}
		var n int64
		if step > 0 && stop > start {
			n = (stop - start + step - 1) / step
		} else if step < 0 && stop < start {
			n = (start - stop - step - 1) / -step
		}
		if n < 0 || n > int64(c.ev.lim.MaxItems) {
			return nil, fmt.Errorf("%w: a collection of more than %d items", ErrLimit, c.ev.lim.MaxItems)
		}
		out, err := c.newList(int(n))
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < n; i++ {
			out = append(out, start+i*step)
		}
		return out, nil
	}, "start", "stop", "step")
	orderBy := func(name string, desc bool) {
		def(name, 2, 2, func(c *Call) (any, error) {
			l, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			return c.ev.order(l, []sortKey{{sel: c.Lambda(1), desc: desc}})
		})
	}
	orderBy("orderBy", false)
	orderBy("orderByDescending", true)
	thenBy := func(name string, desc bool) {
		def(name, 2, 2, func(c *Call) (any, error) {
			v, err := c.Arg(0)
			if err != nil {
				return nil, err
			}
			o, ok := v.(*ordering)
			if !ok {
				return nil, fmt.Errorf("%s() follows orderBy() or orderByDescending(), not a %s", name, typeName(v))
			}
			keys := append(append([]sortKey{}, o.keys...), sortKey{sel: c.Lambda(1), desc: desc})
			return c.ev.order(o.src, keys)
		})
	}
	thenBy("thenBy", false)
	thenBy("thenByDescending", true)
	def("groupBy", 2, 4, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		keySel := c.Lambda(1)
		valSel, hasVal := paramLambda(c, 2, "valueSelector")
		agg, hasAgg := paramLambda(c, 3, "aggregator")
		var keys []any
		index := map[string]int{}
		var groups [][]any
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
			ck, err := c.ev.canon(k)
			if err != nil {
				return err
			}
			i, ok := index[ck]
			if !ok {
				i = len(keys)
				index[ck] = i
				keys = append(keys, k)
				groups = append(groups, nil)
			}
			groups[i] = append(groups[i], v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		out := make([]any, len(keys))
		for i, k := range keys {
			var v any = groups[i]
			if hasAgg {
				if v, err = agg(groups[i]); err != nil {
					return nil, err
				}
			}
			out[i] = []any{k, v}
		}
		return out, nil
	}, "valueSelector", "aggregator")
	// zip as a method truncates to the shortest (YAQL); zip() as a function
	// pads to the longest with pad => value (Orquesta's zip()).
	def("zip", 1, -1, func(c *Call) (any, error) {
		if c.Method {
			lists, err := lists(c, 0)
			if err != nil {
				return nil, err
			}
			return zipLists(c, lists, false, nil)
		}
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		lists := make([][]any, len(args))
		for i, a := range args {
			if a == nil {
				a = []any{}
			}
			if lists[i], err = toList(a); err != nil {
				return nil, fmt.Errorf("zip(): argument %d: %w", i+1, err)
			}
		}
		if len(lists) == 1 {
			return lists[0], nil
		}
		pad, _, err := c.Named("pad")
		if err != nil {
			return nil, err
		}
		return zipLists(c, lists, true, pad)
	}, "pad")
	def("zipLongest", 1, -1, func(c *Call) (any, error) {
		lists, err := lists(c, 0)
		if err != nil {
			return nil, err
		}
		pad, _, err := c.Named("default")
		if err != nil {
			return nil, err
		}
		return zipLists(c, lists, true, pad)
	}, "default")
	// join: seq.join(separator), separator.join(seq), or the query
	// collection1.join(collection2, predicate, selector).
	def("join", 2, 4, func(c *Call) (any, error) {
		if c.Len() == 4 {
			a, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			b, err := listArg(c, 1)
			if err != nil {
				return nil, err
			}
			pred, sel := c.Lambda(2), c.Lambda(3)
			if err := c.ev.charge(len(a) * len(b)); err != nil {
				return nil, err
			}
			out := []any{}
			for _, x := range a {
				for _, y := range b {
					ok, err := pred(x, y)
					if err != nil {
						return nil, err
					}
					if truthy(ok) {
						v, err := sel(x, y)
						if err != nil {
							return nil, err
						}
						if out, err = c.appendItem(out, v); err != nil {
							return nil, err
						}
					}
				}
			}
			return out, nil
		}
		if c.Len() != 2 {
			return nil, fmt.Errorf("join() takes a collection and a separator")
		}
		a, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		b, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		seq, sep := a, b
		if s, ok := a.(string); ok {
			seq, sep = b, s
		}
		items, err := toList(seq)
		if err != nil {
			return nil, fmt.Errorf("join(): %w", err)
		}
		sepStr, ok := sep.(string)
		if !ok {
			return nil, fmt.Errorf("join(): the separator must be a string, not a %s", typeName(sep))
		}
		n := 0
		parts := make([]string, len(items))
		for i, e := range items {
			if parts[i], err = yaqlStrLimit(e, c.ev.lim.MaxStringLen); err != nil {
				return nil, err
			}
			n += len(parts[i]) + len(sepStr)
			if err := c.ev.checkString(n); err != nil {
				return nil, err
			}
		}
		return joinStrings(parts, sepStr), c.ev.charge(len(items))
	})
	whileFn := func(name string, take bool) {
		def(name, 2, 2, func(c *Call) (any, error) {
			l, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			pred := c.Lambda(1)
			if err := c.ev.charge(len(l)); err != nil {
				return nil, err
			}
			for i, e := range l {
				ok, err := pred(e)
				if err != nil {
					return nil, err
				}
				if !truthy(ok) {
					if take {
						return append([]any{}, l[:i]...), nil
					}
					return append([]any{}, l[i:]...), nil
				}
			}
			if take {
				return append([]any{}, l...), nil
			}
			return []any{}, nil
		})
	}
	whileFn("takeWhile", true)
	whileFn("skipWhile", false)
	def("indexOf", 2, 4, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			return stringIndex(c, s, false)
		}
		l, err := toList(v)
		if err != nil || c.Len() != 2 {
			return nil, unsupported(c, v)
		}
		item, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		for i, e := range l {
			if eq, err := c.ev.eq(e, item); err != nil || eq {
				return int64(i), err
			}
		}
		return int64(-1), c.ev.charge(len(l))
	})
	def("lastIndexOf", 2, 4, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			return stringIndex(c, s, true)
		}
		l, err := toList(v)
		if err != nil || c.Len() != 2 {
			return nil, unsupported(c, v)
		}
		item, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		for i := len(l) - 1; i >= 0; i-- {
			if eq, err := c.ev.eq(l[i], item); err != nil || eq {
				return int64(i), err
			}
		}
		return int64(-1), c.ev.charge(len(l))
	})
	indexWhere := func(name string, last bool) {
		def(name, 2, 2, func(c *Call) (any, error) {
			l, err := listArg(c, 0)
			if err != nil {
				return nil, err
			}
			pred := c.Lambda(1)
			found := int64(-1)
			err = each(c, l, func(i int, e any) error {
				if found >= 0 && !last {
					return nil
				}
				ok, err := pred(e)
				if err == nil && truthy(ok) {
					found = int64(i)
				}
				return err
			})
			return found, err
		})
	}
	indexWhere("indexWhere", false)
	indexWhere("lastIndexWhere", true)
	def("slice", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		n, err := intParam(c, 1, "length", 0)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, fmt.Errorf("slice(): length must be positive")
		}
		out := []any{}
		for i := 0; i < len(l); i += int(n) {
			end := i + int(n)
			if end > len(l) || end < 0 {
				end = len(l)
			}
			out = append(out, append([]any{}, l[i:end]...))
		}
		return out, c.ev.charge(len(l))
	})
	def("splitWhere", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pred := c.Lambda(1)
		out := []any{}
		start := 0
		err = each(c, l, func(i int, e any) error {
			ok, err := pred(e)
			if err == nil && truthy(ok) {
				out = append(out, append([]any{}, l[start:i]...))
				start = i + 1
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if start != len(l) {
			out = append(out, append([]any{}, l[start:]...))
		}
		return out, nil
	})
	def("sliceWhere", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		pred := c.Lambda(1)
		out := []any{}
		start := 0
		var prev any
		err = each(c, l, func(i int, e any) error {
			p, err := pred(e)
			if err != nil {
				return err
			}
			same, err := c.ev.eq(p, prev)
			if err != nil {
				return err
			}
			if i > 0 && !same {
				out = append(out, append([]any{}, l[start:i]...))
				start = i
			}
			prev = p
			return nil
		})
		if err != nil {
			return nil, err
		}
		if start != len(l) {
			out = append(out, append([]any{}, l[start:]...))
		}
		return out, nil
	})
	def("splitAt", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		i, err := intParam(c, 1, "index", 0)
		if err != nil {
			return nil, err
		}
		n := int64(len(l))
		if i < 0 {
			i += n
			if i < 0 {
				i = 0
			}
		}
		if i > n {
			i = n
		}
		return []any{append([]any{}, l[:i]...), append([]any{}, l[i:]...)}, nil
	})
	def("aggregate", 2, 3, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		sel := c.Lambda(1)
		seed, hasSeed, err := param(c, 2, "seed")
		if err != nil {
			return nil, err
		}
		return fold(c, l, seed, hasSeed, func(a, b any) (any, error) { return sel(a, b) })
	}, "seed")
	alias("reduce", "aggregate")
	def("accumulate", 2, 3, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		sel := c.Lambda(1)
		acc, hasSeed, err := param(c, 2, "seed")
		if err != nil {
			return nil, err
		}
		if !hasSeed {
			if len(l) == 0 {
				return nil, fmt.Errorf("accumulate() of an empty collection with no seed")
			}
			acc, l = l[0], l[1:]
		}
		out := []any{acc}
		err = each(c, l, func(_ int, e any) error {
			var err error
			if acc, err = sel(acc, e); err == nil {
				out = append(out, acc)
			}
			return err
		})
		return out, err
	}, "seed")
	def("reverse", 1, 1, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(l))
		for i, e := range l {
			out[len(l)-1-i] = e
		}
		return out, c.ev.charge(len(l))
	})
	def("memorize", 1, 1, func(c *Call) (any, error) { return listArg(c, 0) })
	def("isIterable", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, lerr := toList(v)
		return lerr == nil, err
	})
	def("defaultIfEmpty", 2, 2, func(c *Call) (any, error) {
		l, err := listArg(c, 0)
		if err != nil {
			return nil, err
		}
		if len(l) > 0 {
			return l, nil
		}
		return listArg(c, 1)
	})
	def("repeat", 2, 2, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		n, err := intParam(c, 1, "times", -1)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("repeat(): an endless repeat is not supported; give times")
		}
		if n > int64(c.ev.lim.MaxItems) {
			return nil, fmt.Errorf("%w: a collection of more than %d items", ErrLimit, c.ev.lim.MaxItems)
		}
		out, err := c.newList(int(n))
		for i := int64(0); err == nil && i < n; i++ {
			out = append(out, v)
		}
		return out, err
	}, "times")
	def("generate", 3, 5, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		pred, producer := c.Lambda(1), c.Lambda(2)
		sel, hasSel := paramLambda(c, 3, "selector")
		decycle, err := boolParam(c, 4, "decycle", false)
		if err != nil {
			return nil, err
		}
		out := []any{}
		seen := map[string]bool{}
		for {
			ok, err := pred(v)
			if err != nil {
				return nil, err
			}
			if !truthy(ok) {
				return out, nil
			}
			if decycle {
				k, err := c.ev.canon(v)
				if err != nil {
					return nil, err
				}
				if seen[k] {
					return out, nil
				}
				seen[k] = true
			}
			item := v
			if hasSel {
				if item, err = sel(v); err != nil {
					return nil, err
				}
			}
			if out, err = c.appendItem(out, item); err != nil {
				return nil, err
			}
			if v, err = producer(v); err != nil {
				return nil, err
			}
		}
	}, "selector", "decycle")
	def("mergeWith", 2, 5, func(c *Call) (any, error) {
		a, err := dictArg(c, 0)
		if err != nil {
			return nil, err
		}
		b, err := dictArg(c, 1)
		if err != nil {
			return nil, err
		}
		listMerger, hasLM := paramLambda(c, 2, "listMerger")
		itemMerger, hasIM := paramLambda(c, 3, "itemMerger")
		maxLevels, err := intParam(c, 4, "maxLevels", 0)
		if err != nil {
			return nil, err
		}
		m := &merger{c: c}
		if hasLM {
			m.list = func(x, y []any) (any, error) { return listMerger(x, y) }
		}
		if hasIM {
			m.item = func(x, y any) (any, error) { return itemMerger(x, y) }
		}
		return m.merge(a, b, maxLevels)
	}, "listMerger", "itemMerger", "maxLevels")
	for _, name := range []string{"sequence", "cycle"} {
		name := name
		def(name, 0, -1, func(c *Call) (any, error) {
			return nil, fmt.Errorf("%s() yields an endless collection, which this evaluator does not support", name)
		})
	}
}

func lists(c *Call, from int) ([][]any, error) {
	out := make([][]any, 0, c.Len()-from)
	for i := from; i < c.Len(); i++ {
		l, err := listArg(c, i)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func zipLists(c *Call, lists [][]any, longest bool, pad any) (any, error) {
	n := -1
	for _, l := range lists {
		if n < 0 || (longest && len(l) > n) || (!longest && len(l) < n) {
			n = len(l)
		}
	}
	if n < 0 {
		n = 0
	}
	out, err := c.newList(n)
	if err != nil {
		return nil, err
	}
	if err := c.ev.charge(n * len(lists)); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		row := make([]any, len(lists))
		for j, l := range lists {
			if i < len(l) {
				row[j] = l[i]
			} else {
				row[j] = pad
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func fold(c *Call, l []any, acc any, hasInit bool, f func(a, b any) (any, error)) (any, error) {
	if !hasInit {
		if len(l) == 0 {
			return nil, fmt.Errorf("%s() of an empty collection with no initial value", c.Name)
		}
		acc, l = l[0], l[1:]
	}
	err := each(c, l, func(_ int, e any) error {
		var err error
		acc, err = f(acc, e)
		return err
	})
	return acc, err
}

type merger struct {
	c    *Call
	list func(a, b []any) (any, error)
	item func(a, b any) (any, error)
}

func (m *merger) merge(a, b map[string]any, maxLevels int64) (any, error) {
	if err := m.c.ev.charge(len(a) + len(b)); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v1 := range a {
		out[k] = v1
		v2, ok := b[k]
		if !ok {
			continue
		}
		var err error
		d2, isDict := v2.(map[string]any)
		l2, lerr := toList(v2)
		switch {
		case maxLevels != 1 && isDict:
			d1, ok := v1.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("mergeWith(): cannot merge a %s with a dictionary", typeName(v1))
			}
			next := maxLevels - 1
			if maxLevels == 0 {
				next = 0
			}
			out[k], err = m.merge(d1, d2, next)
		case maxLevels != 1 && lerr == nil:
			l1, err1 := toList(v1)
			if err1 != nil {
				return nil, fmt.Errorf("mergeWith(): cannot merge a %s with a list", typeName(v1))
			}
			if m.list != nil {
				out[k], err = m.list(l1, l2)
			} else {
				out[k], err = distinct(m.c, append(append([]any{}, l1...), l2...), nil)
			}
		default:
			if m.item != nil {
				out[k], err = m.item(v1, v2)
			} else {
				out[k] = v2
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for k, v := range b {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out, nil
}
