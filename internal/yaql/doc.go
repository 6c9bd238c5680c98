// Package yaql evaluates YAQL expressions, the query language of OpenStack
// that StackStorm Orquesta workflows embed as <% … %>.
//
// It is our own implementation, written from YAQL's grammar and standard
// library documentation (openstack/yaql) and from how Orquesta calls it
// (orquesta/expressions/yql.py). Values are plain Go values as decoded from
// JSON: nil, bool, int64, float64, string, []any and map[string]any; other
// Go numbers, json.Number and typed slices/maps are converted on the way in.
//
// Evaluate parses and runs one expression; Render expands every <% … %> in a
// string the way Orquesta does (a string that is exactly one expression yields
// the typed value, mixed text yields a string). A Context holds variables
// ($, $name) and functions; the workflow engine registers its own (ctx(),
// result(), item(), task_status(), st2kv() …) with Context.Register.
//
// Evaluation is bounded (Limits): a step budget, a nesting depth and a cap on
// the size of the strings and collections an expression may build, so hostile
// input fails with an error instead of hanging or exhausting memory.
//
// The standard library (Functions lists it) covers YAQL's queries, collections,
// strings, math, boolean, regex, branching and system functions, Orquesta's
// json() and zip(), and StackStorm's YAQL functions (from_json_string,
// to_yaml_string, jsonpath_query, regex_*, version_*, use_none, basename …).
// Every function may be called as name(a, b) or as a.name(b). YAQL's date and
// time functions, delegates (lambda(), $f(…), call()) and argument skipping
// (f(, 1)) are not implemented. NewOrquestaContext provides ctx(); CtxVars
// lists the variables an expression reads for install-time checks.
//
// Differences from Python YAQL, on purpose: dictionaries are Go maps with
// string keys (a non-string key is turned into its YAQL string form) and
// their keys are listed in sorted order; sets are lists without duplicates;
// collections are evaluated eagerly, so infinite generators (sequence(),
// cycle(), repeat() without a count) are refused; regular expressions use Go's
// RE2 syntax (no back-references or look-around); to_json_string() and
// to_yaml_string() write keys sorted, and to_yaml_string() double-quotes
// multi-line strings where PyYAML folds them.
package yaql
