package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Canonical operator names. Aliases (eq, neq, ieq, lt, gt, td_lt, td_gt, in, nin) map onto
// these in canonicalOperator, so the matcher only ever switches on one name per operator.
const (
	opEquals        = "equals"
	opNEquals       = "nequals"
	opIEquals       = "iequals"
	opContains      = "contains"
	opIContains     = "icontains"
	opNContains     = "ncontains"
	opINContains    = "incontains"
	opStartsWith    = "startswith"
	opIStartsWith   = "istartswith"
	opEndsWith      = "endswith"
	opIEndsWith     = "iendswith"
	opLessThan      = "lessthan"
	opGreaterThan   = "greaterthan"
	opMatchWildcard = "matchwildcard"
	opMatchRegex    = "matchregex"
	opRegex         = "regex"
	opIRegex        = "iregex"
	opTimeDiffLT    = "timediff_lt"
	opTimeDiffGT    = "timediff_gt"
	opExists        = "exists"
	opNExists       = "nexists"
	opInside        = "inside"
	opNInside       = "ninside"
	opSearch        = "search"
)

// canonicalOperator resolves an operator name or alias, case-insensitively as StackStorm's
// get_operator does, so rules written for st2 keep working.
func canonicalOperator(name string) (string, bool) {
	switch name = strings.ToLower(name); name {
	case "eq":
		return opEquals, true
	case "neq":
		return opNEquals, true
	case "ieq":
		return opIEquals, true
	case "lt":
		return opLessThan, true
	case "gt":
		return opGreaterThan, true
	case "td_lt":
		return opTimeDiffLT, true
	case "td_gt":
		return opTimeDiffGT, true
	case "in":
		return opInside, true
	case "nin":
		return opNInside, true
	case opEquals, opNEquals, opIEquals, opContains, opIContains, opNContains, opINContains,
		opStartsWith, opIStartsWith, opEndsWith, opIEndsWith, opLessThan, opGreaterThan,
		opMatchWildcard, opMatchRegex, opRegex, opIRegex, opTimeDiffLT, opTimeDiffGT,
		opExists, opNExists, opInside, opNInside, opSearch:
		return name, true
	}
	return "", false
}

// Problem is one invalid entry found while compiling criteria or templates: Key names the
// criteria key or parameter path, so the API can point at the offending field.
type Problem struct {
	Key     string
	Message string
}

// formatProblems renders problems as "what: key: message; key: message" for Error methods.
func formatProblems(what string, problems []Problem) string {
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = p.Key + ": " + p.Message
	}
	return what + ": " + strings.Join(parts, "; ")
}

// CriteriaError lists every invalid criteria entry at once (sorted by key), so a rule author
// fixes them all in one round instead of one per attempt.
type CriteriaError struct {
	Problems []Problem
}

// Error joins all problems into one line.
func (e *CriteriaError) Error() string { return formatProblems("invalid criteria", e.Problems) }

// MatchError reports a criteria entry that could not be evaluated against a payload (a
// timediff value that is not a timestamp), which usually means the rule expects another
// payload shape. It never contains payload values, which may be secret.
type MatchError struct {
	Key     string
	Message string
}

// Error renders the key and message.
func (e *MatchError) Error() string { return "criteria " + e.Key + ": " + e.Message }

// Criteria is a compiled StackStorm criteria map: the AND of its entries, each an operator
// applied to one payload path. Compiling once at rule creation validates every entry and
// precompiles regexes, so matching an event does no parsing. A nil or empty Criteria matches
// every payload. Safe for concurrent use.
type Criteria struct {
	entries []criterion // sorted by key, so evaluation order and reported errors are stable
}

// criterion is one compiled entry; which fields are set depends on op.
type criterion struct {
	key     string
	path    []string       // segments after the root ("trigger", "event.payload" or "item")
	op      string         // canonical operator name
	pattern any            // raw pattern, for equals/contains/inside
	text    string         // string pattern, lower-cased for the case-insensitive operators
	number  float64        // numeric pattern (lessthan/greaterthan when numeric, timediff seconds)
	numeric bool           // lessthan/greaterthan compare numbers rather than strings
	re      *regexp.Regexp // matchwildcard, matchregex, regex, iregex
	all     bool           // search: every list item must match (all, all2any)
	anyPat  bool           // search: an item matches when any item criterion does (all2any, any2any)
	items   *Criteria      // search: criteria applied to each list item
	tmpl    *Templates     // a Jinja pattern, rendered per event before the operator applies
}

// CompileCriteria validates and compiles a StackStorm criteria map such as
// {"trigger.severity": {"type": "equals", "pattern": "high"}}. Keys are dotted payload paths
// starting with "trigger" or "event.payload" (both mean the event payload); numeric segments
// index lists. Every invalid entry is reported in one *CriteriaError.
func CompileCriteria(raw map[string]any) (*Criteria, error) {
	c, problems := compileCriteria(raw, "trigger", "event.payload")
	if len(problems) > 0 {
		return nil, &CriteriaError{Problems: problems}
	}
	return c, nil
}

// compileCriteria compiles entries whose keys start with one of roots; search patterns reuse
// it with the "item" root.
func compileCriteria(raw map[string]any, roots ...string) (*Criteria, []Problem) {
	c := &Criteria{entries: make([]criterion, 0, len(raw))}
	var problems []Problem
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		cr := criterion{key: key}
		msgs := cr.compile(raw[key], roots)
		for _, m := range msgs {
			problems = append(problems, Problem{Key: key, Message: m})
		}
		if len(msgs) == 0 {
			c.entries = append(c.entries, cr)
		}
	}
	return c, problems
}

// parsePath splits a criteria key into the segments after its root.
func parsePath(key string, roots []string) ([]string, error) {
	// StackStorm ignores "#" and what follows, so one path can carry
	// several criteria: trigger.count#1, trigger.count#2.
	key, _, _ = strings.Cut(key, "#")
	for _, root := range roots {
		if key == root {
			return nil, nil
		}
		rest, ok := strings.CutPrefix(key, root+".")
		if !ok {
			continue
		}
		segs := strings.Split(rest, ".")
		if slices.Contains(segs, "") {
			return nil, errors.New("key has an empty path segment")
		}
		return segs, nil
	}
	quoted := make([]string, len(roots))
	for i, root := range roots {
		quoted[i] = strconv.Quote(root + ".")
	}
	return nil, fmt.Errorf("key must start with %s", strings.Join(quoted, " or "))
}

// compile validates one entry's key and spec, filling cr; it returns every problem found.
func (cr *criterion) compile(raw any, roots []string) []string {
	var msgs []string
	path, err := parsePath(cr.key, roots)
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	cr.path = path
	spec, ok := raw.(map[string]any)
	if !ok {
		return append(msgs, `entry must be an object with "type" and "pattern"`)
	}
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		if k != "type" && k != "pattern" && k != "condition" {
			msgs = append(msgs, fmt.Sprintf("unknown field %q", k))
		}
	}
	name, ok := spec["type"].(string)
	if !ok {
		return append(msgs, `"type" must name an operator`)
	}
	if cr.op, ok = canonicalOperator(name); !ok {
		return append(msgs, fmt.Sprintf("unknown operator %q", name))
	}
	if _, ok := spec["condition"]; ok && cr.op != opSearch {
		msgs = append(msgs, `"condition" is only valid for search`)
	}
	pattern := spec["pattern"]
	switch {
	case cr.op == opExists || cr.op == opNExists:
		if pattern != nil {
			msgs = append(msgs, cr.op+" takes no pattern")
		}
		return msgs
	case cr.op == opSearch:
		return append(msgs, cr.compileSearch(pattern, spec["condition"])...)
	case pattern == nil:
		return append(msgs, `missing "pattern"`)
	}
	if tmpl, ok := pattern.(string); ok && isTemplate(tmpl) {
		// Rendered against the event (trigger, st2kv) before each match, as
		// StackStorm renders criteria patterns.
		t, err := CompileTemplates(map[string]any{"pattern": tmpl})
		if err != nil {
			return append(msgs, err.Error())
		}
		cr.tmpl = t
		return msgs
	}
	if err := cr.compilePattern(pattern); err != nil {
		msgs = append(msgs, err.Error())
	}
	return msgs
}

// compilePattern checks that pattern has the shape cr.op needs and precomputes what the
// matcher uses.
func (cr *criterion) compilePattern(pattern any) error {
	cr.pattern = pattern
	switch cr.op {
	case opEquals, opNEquals, opContains, opNContains:
		return nil
	case opInside, opNInside:
		switch pattern.(type) {
		case string, []any, map[string]any:
			return nil
		}
		return fmt.Errorf("pattern must be a list, string or object, got %s", jsonType(pattern))
	case opLessThan, opGreaterThan:
		if cr.number, cr.numeric = numeric(pattern); cr.numeric {
			return nil
		}
		if s, ok := pattern.(string); ok {
			cr.text = s
			return nil
		}
		return fmt.Errorf("pattern must be a number or string, got %s", jsonType(pattern))
	case opTimeDiffLT, opTimeDiffGT:
		var ok bool
		if cr.number, ok = numeric(pattern); !ok {
			return fmt.Errorf("pattern must be a number of seconds, got %s", jsonType(pattern))
		}
		return nil
	}
	s, ok := pattern.(string)
	if !ok {
		return fmt.Errorf("pattern must be a string, got %s", jsonType(pattern))
	}
	cr.text = s
	var err error
	switch cr.op {
	case opIEquals, opIContains, opINContains, opIStartsWith, opIEndsWith:
		cr.text = strings.ToLower(s)
	case opMatchWildcard:
		if cr.re, err = regexp.Compile(wildcardRegexp(s)); err != nil {
			return fmt.Errorf("invalid wildcard pattern: %w", err)
		}
	case opMatchRegex:
		// Validate alone first: wrapping could balance an unbalanced pattern such as ")(".
		if _, err = regexp.Compile(s); err == nil {
			cr.re, err = regexp.Compile(`^(?s:` + s + `)`)
		}
	case opRegex:
		cr.re, err = regexp.Compile(s)
	case opIRegex:
		cr.re, err = regexp.Compile(`(?i)` + s)
	}
	if err != nil {
		return fmt.Errorf("invalid regular expression: %w", err)
	}
	return nil
}

// compileSearch compiles a search entry: a condition and a non-empty nested criteria map
// whose keys start with "item". As in StackStorm, any: some item matches every item
// criterion; all: every item does; all2any: every item matches some criterion; any2any: some
// item matches some criterion.
func (cr *criterion) compileSearch(pattern, condition any) []string {
	var msgs []string
	switch condition {
	case "any":
	case "all":
		cr.all = true
	case "all2any":
		cr.all, cr.anyPat = true, true
	case "any2any":
		cr.anyPat = true
	default:
		msgs = append(msgs, `search "condition" must be "any", "all", "all2any" or "any2any"`)
	}
	nested, ok := pattern.(map[string]any)
	if !ok || len(nested) == 0 {
		return append(msgs, "search pattern must be a non-empty object of item criteria")
	}
	items, problems := compileCriteria(nested, "item")
	for _, p := range problems {
		msgs = append(msgs, "search pattern "+p.Key+": "+p.Message)
	}
	cr.items = items
	return msgs
}

// wildcardRegexp translates a shell glob to an anchored regexp with Python fnmatch semantics
// (what StackStorm's matchwildcard uses): '*' matches anything including '/', '?' one
// character, "[seq]" and "[!seq]" a character class; an unclosed '[' is literal.
func wildcardRegexp(glob string) string {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(glob) && glob[j] == '!' {
				j++
			}
			if j < len(glob) && glob[j] == ']' {
				j++
			}
			for j < len(glob) && glob[j] != ']' {
				j++
			}
			if j >= len(glob) {
				b.WriteString(`\[`)
				continue
			}
			class := glob[i+1 : j]
			b.WriteByte('[')
			if class[0] == '!' {
				b.WriteByte('^')
				class = class[1:]
			}
			for k := 0; k < len(class); k++ {
				if strings.IndexByte(`\[]^`, class[k]) >= 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(class[k])
			}
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return b.String()
}

// HasTemplates reports whether some pattern is a Jinja template, which needs the event's
// context (MatchContext) to be judged.
func (c *Criteria) HasTemplates() bool {
	if c == nil {
		return false
	}
	for _, cr := range c.entries {
		if cr.tmpl != nil || cr.items.HasTemplates() {
			return true
		}
	}
	return false
}

// References returns the context paths the patterns' templates read, for callers that
// supply st2kv only when asked for.
func (c *Criteria) References() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, cr := range c.entries {
		if cr.tmpl != nil {
			out = append(out, cr.tmpl.References()...)
		}
		out = append(out, cr.items.References()...)
	}
	return out
}

// MatchContext is Match with the context Jinja patterns render against (trigger, st2kv…);
// a pattern that fails to render is a *MatchError.
func (c *Criteria) MatchContext(payload map[string]any, tc Context, now time.Time) (bool, error) {
	if tc == nil {
		tc = Context{"trigger": payload}
	}
	return c.matchIn(payload, tc, now)
}

// Match reports whether payload satisfies every entry. A path that is missing or null fails
// every operator except nexists. Type mismatches (lessthan on a list, startswith on a number)
// are simply no match; the error is non-nil only for a *MatchError (timediff on a value that
// is not a timestamp), returned with false so the caller can log it. now is the clock for
// timediff. A nil Criteria matches everything.
func (c *Criteria) Match(payload map[string]any, now time.Time) (bool, error) {
	return c.matchIn(payload, Context{"trigger": payload}, now)
}

// matchIn evaluates the entries in key order against root, stopping at the first failure;
// tc is what templated patterns render against.
func (c *Criteria) matchIn(root any, tc Context, now time.Time) (bool, error) {
	if c == nil {
		return true, nil
	}
	for i := range c.entries {
		if ok, err := c.entries[i].match(root, tc, now); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchAny reports whether root satisfies at least one entry (search's all2any and any2any).
func (c *Criteria) matchAny(root any, tc Context, now time.Time) (bool, error) {
	for i := range c.entries {
		ok, err := c.entries[i].match(root, tc, now)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// match applies one entry to root, rendering a templated pattern first.
func (cr *criterion) match(root any, tc Context, now time.Time) (bool, error) {
	if cr.tmpl != nil {
		rendered, err := cr.tmpl.Render(tc)
		if err != nil {
			return false, &MatchError{Key: cr.key, Message: "pattern: " + err.Error()}
		}
		c := *cr
		c.tmpl = nil
		if err := c.compilePattern(rendered["pattern"]); err != nil {
			return false, &MatchError{Key: cr.key, Message: "rendered pattern: " + err.Error()}
		}
		return c.match(root, tc, now)
	}
	v, found := lookup(root, cr.path)
	if !found || v == nil {
		return cr.op == opNExists, nil
	}
	switch cr.op {
	case opExists:
		return true, nil
	case opNExists:
		return false, nil
	case opEquals:
		return jsonEqual(v, cr.pattern), nil
	case opNEquals:
		return !jsonEqual(v, cr.pattern), nil
	case opContains, opNContains:
		in, ok := membership(v, cr.pattern)
		return ok && in == (cr.op == opContains), nil
	case opInside, opNInside:
		in, ok := membership(cr.pattern, v)
		return ok && in == (cr.op == opInside), nil
	case opLessThan:
		c, ok := cr.compare(v)
		return ok && c < 0, nil
	case opGreaterThan:
		c, ok := cr.compare(v)
		return ok && c > 0, nil
	case opTimeDiffLT, opTimeDiffGT:
		return cr.timediff(v, now)
	case opSearch:
		return cr.search(v, tc, now)
	}
	s, ok := v.(string)
	return ok && cr.matchString(s), nil
}

// matchString applies the operators that only make sense on string values.
func (cr *criterion) matchString(s string) bool {
	switch cr.op {
	case opIEquals:
		return strings.EqualFold(s, cr.text)
	case opIContains:
		return strings.Contains(strings.ToLower(s), cr.text)
	case opINContains:
		return !strings.Contains(strings.ToLower(s), cr.text)
	case opStartsWith:
		return strings.HasPrefix(s, cr.text)
	case opIStartsWith:
		return strings.HasPrefix(strings.ToLower(s), cr.text)
	case opEndsWith:
		return strings.HasSuffix(s, cr.text)
	case opIEndsWith:
		return strings.HasSuffix(strings.ToLower(s), cr.text)
	}
	return cr.re.MatchString(s)
}

// compare orders v against a lessthan/greaterthan pattern: numerically when the pattern is a
// number or numeric string (v may be either too, since webhook payloads are often all
// strings), otherwise as strings. ok is false when v cannot be compared that way.
func (cr *criterion) compare(v any) (int, bool) {
	if cr.numeric {
		f, ok := numeric(v)
		if !ok {
			return 0, false
		}
		switch {
		case f < cr.number:
			return -1, true
		case f > cr.number:
			return 1, true
		}
		return 0, true
	}
	s, ok := v.(string)
	return strings.Compare(s, cr.text), ok
}

// timediff compares the age of timestamp v (now minus v, in seconds) with the pattern.
func (cr *criterion) timediff(v any, now time.Time) (bool, error) {
	age, ok := ageSeconds(v, now)
	if !ok {
		return false, &MatchError{Key: cr.key, Message: fmt.Sprintf(
			"%s needs a timestamp (RFC 3339 or epoch seconds), got a %s that is not one", cr.op, jsonType(v))}
	}
	if cr.op == opTimeDiffLT {
		return age < cr.number, nil
	}
	return age > cr.number, nil
}

// ageSeconds returns now minus the timestamp v. Numbers and numeric strings are Unix epoch
// seconds; strings are RFC 3339, or the same without a zone (then UTC, as StackStorm assumes).
func ageSeconds(v any, now time.Time) (float64, bool) {
	if secs, ok := numeric(v); ok {
		return float64(now.Unix()) + float64(now.Nanosecond())/1e9 - secs, true
	}
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return now.Sub(t).Seconds(), true
		}
	}
	return 0, false
}

// search applies the item criteria to each element of list v: true if any (or all) match.
// Like Python's any/all, "all" over an empty list is true and "any" is false.
func (cr *criterion) search(v any, tc Context, now time.Time) (bool, error) {
	list, ok := v.([]any)
	if m, isMap := v.(map[string]any); isMap {
		list, ok = []any{m}, true // StackStorm searches one object as a list of one
	}
	if !ok {
		return false, nil
	}
	match := cr.items.matchIn
	if cr.anyPat {
		match = cr.items.matchAny
	}
	for _, item := range list {
		ok, err := match(item, tc, now)
		if err != nil {
			return false, fmt.Errorf("search %s: %w", cr.key, err)
		}
		if ok != cr.all {
			return ok, nil
		}
	}
	return cr.all, nil
}

// lookup follows a dotted path from root through objects (by key) and lists (by numeric
// index). found is false when any segment is absent.
func lookup(root any, path []string) (any, bool) {
	cur := root
	for _, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case Context:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// membership mirrors Python's `needle in haystack`, which StackStorm's contains and inside
// use: substring for strings, element equality for lists, key presence for objects. ok is
// false when haystack cannot hold needle (e.g. a number), which makes both the positive and
// the negated operators fail.
func membership(haystack, needle any) (found, ok bool) {
	switch h := haystack.(type) {
	case string:
		n, ok := needle.(string)
		return ok && strings.Contains(h, n), ok
	case []any:
		return slices.ContainsFunc(h, func(e any) bool { return jsonEqual(e, needle) }), true
	case map[string]any:
		n, ok := needle.(string)
		_, found := h[n]
		return ok && found, ok
	}
	return false, false
}

// jsonEqual compares decoded JSON (or YAML) values: numbers by value whatever their Go type
// (1 == 1.0), lists and objects deeply. Strings never equal numbers and booleans never equal
// numbers, unlike Python's True == 1.
func jsonEqual(a, b any) bool {
	if x, ok := toNumber(a); ok {
		y, ok := toNumber(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && maps.EqualFunc(x, y, jsonEqual)
	}
	return false
}

// toNumber converts any Go number (float64 from encoding/json, int from yaml.v3,
// json.Number, ...) to float64. Strings and booleans are not numbers.
func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// numeric is toNumber plus finite numeric strings ("42", "1.5e3"), for the operators and
// filters that coerce text to numbers.
func numeric(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return toNumber(v)
}

// jsonType names v's JSON type for error messages, which must not echo values.
func jsonType(v any) string {
	if _, ok := toNumber(v); ok {
		return "number"
	}
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any, Context:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// isTemplate reports a string holding a Jinja expression or statement.
func isTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%")
}
