// Package rule decides which events fire which rules and what parameters the resulting
// executions get. Its pure core has two halves, both compiled once when a rule is created
// (so mistakes are refused up front with every problem listed) and evaluated per event
// without parsing:
//
// # Criteria
//
// CompileCriteria takes StackStorm's criteria form unchanged, so st2 rules port as they are:
//
//	trigger.severity: {type: equals, pattern: high}
//	trigger.tags:     {type: contains, pattern: prod}
//	trigger.items:    {type: search, condition: any, pattern: {item.name: {type: equals, pattern: x}}}
//
// All entries must hold (AND). Keys are dotted paths into the event payload starting with
// "trigger" or "event.payload" (synonyms); numeric segments index lists. The operator set is
// StackStorm's (st2common/operators.py), aliases and case-insensitive names included. Choices
// where StackStorm is ambiguous or Python-specific:
//
//   - A missing or null value fails every operator except nexists, the negated ones
//     (nequals, ncontains, incontains, ninside) included. StackStorm passes None to the
//     operator, so there nequals/ninside on a missing key happen to match and the others
//     raise and fail; one rule is easier to reason about.
//   - Type mismatches (startswith on a number, lessthan on a list) are no match, never an
//     error. Match returns an error only when a timediff value is not a timestamp, since
//     that means the rule expects another payload shape.
//   - equals compares JSON values: numbers by value (1 == 1.0), lists and objects deeply;
//     strings are never numbers and booleans never numbers.
//   - contains/ncontains and inside/ninside follow Python's `in`: substring for strings,
//     element for lists, key for objects. The i-variants (icontains, incontains) work on
//     strings only.
//   - lessthan/greaterthan compare numerically when the pattern is a number or a numeric
//     string, coercing numeric-string values too (webhook payloads are often all strings;
//     StackStorm would raise and not match); a non-numeric string pattern compares strings
//     byte-wise (ISO dates order correctly).
//   - Regexes use Go's RE2 syntax (no look-around or back-references). As in StackStorm,
//     matchregex is Python's re.match with DOTALL (anchored at the start only), while regex
//     and iregex are re.search (anywhere in the value). matchwildcard is fnmatch: '*' also
//     crosses '/', case-sensitive.
//   - timediff_lt/timediff_gt (td_lt/td_gt): the pattern is seconds; the value is RFC 3339
//     (a value without zone is UTC) or epoch seconds; true when now - value is below/above
//     the pattern. The clock is a parameter of Match.
//   - search: condition any or all (StackStorm's any2any/all2any are not supported); like
//     Python's any/all, "all" over an empty list is true.
//   - Patterns are not templated (StackStorm renders st2kv lookups in patterns).
//
// # Templates
//
// Action parameters are rendered by a hand-written subset of Jinja expressions: small, safe,
// typed; a Jinja-compatible subset so StackStorm rules port. Only `{{ path }}` and
// `{{ path | filter | filter(arg) }}` exist: no code execution, no loops, no conditionals,
// deliberately; `{% %}` and `{# #}` are refused. Paths are dotted with numeric list indexes
// and brackets for awkward keys (`trigger.headers["X-Token"]`). Filters: default(value)
// (used when the path is missing or null; value is a literal: 'single' or "double" quoted
// string, number, true/false/null (or True/False/None), [..], {..}), lower, upper,
// json (alias tojson), string, int. A string that is exactly one expression keeps the
// value's JSON type; mixed text renders non-strings as JSON (null, true, {"a":1}), not
// Python's None/True. A missing path is an error naming the parameter and the path, never
// an empty string.
package rule
