package manifest

import (
	"regexp"
	"strings"
)

// Policy types in StackStorm's form (policy_type), and the outcomes a
// retry policy may name.
const (
	PolicyConcurrency     = "action.concurrency"
	PolicyConcurrencyAttr = "action.concurrency.attr"
	PolicyRetry           = "action.retry"
)

// Policy is a file of policies/: a guard rail on one action's executions,
// in StackStorm's form (policy_type, resource_ref, parameters: one kind of
// limit) or the reference form (action_ref with concurrency, rate_limit
// and retry, any of them). Zero values mean "no such limit".
type Policy struct {
	Ref         string
	Name        string
	Description string
	ActionRef   string
	// Type is StackStorm's policy_type; empty for the reference form.
	Type    string
	Enabled bool
	// Concurrency: at most ConcurrencyThreshold RUNNING at once (per the
	// values of ConcurrencyAttributes when set); the others are DELAYed
	// or CANCELed (ConcurrencyAction "DELAY" or "CANCEL").
	ConcurrencyThreshold  int
	ConcurrencyAction     string
	ConcurrencyAttributes []string
	// RateLimit: at most RateLimitMax executions started per window.
	RateLimitMax, RateLimitWindowSeconds int
	// Retry: a run ending with one of RetryOn ("FAILED", "TIMEOUT") runs
	// again after RetryDelaySeconds, at most RetryMaxCount times.
	RetryOn           []string
	RetryMaxCount     int
	RetryDelaySeconds int
	File              string
}

// policyName is a StackStorm policy name: dots are allowed
// (my_action.concurrency).
var policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// policy parses a file in policies/.
func (l *loader) policy(d *doc) {
	name := d.str("name")
	ref := d.str("ref")
	switch {
	case ref != "":
		owner, rest, ok := strings.Cut(ref, ".")
		if !ok {
			owner, rest = l.pack.Ref, ref
		}
		if l.packOK && owner != l.pack.Ref {
			d.problem("ref", "%q is owned by another pack; refs in this pack must start with %q", ref, l.pack.Ref+".")
		}
		name = rest
	case name == "":
		name, _, _ = strings.Cut(d.file[strings.LastIndex(d.file, "/")+1:], ".yaml")
		name = strings.TrimSuffix(name, ".yml")
	}
	if !policyName.MatchString(name) {
		d.problem("name", "%q must match %s", name, policyName)
	}
	if p := d.str("pack"); l.packOK && p != "" && p != l.pack.Ref {
		d.problem("pack", "%q is not this pack (%q)", p, l.pack.Ref)
	}
	p := ParsePolicyDoc(d)
	p.Ref, p.Name, p.File = l.pack.Ref+"."+name, name, d.file
	p.ActionRef = l.qualify(p.ActionRef)
	key := "policy " + p.Ref
	if first, ok := l.seen[key]; ok {
		d.problem("name", "duplicate policy ref %q (also defined in %s)", p.Ref, first)
	}
	l.seen[key] = d.file
	l.pack.Policies = append(l.pack.Policies, p)
}

// ParsePolicy reads a policy given as a mapping (the API's createPolicy),
// everything but its ref; the problems name the keys (dotted for nested
// ones), without a file or line.
func ParsePolicy(m map[string]any) (Policy, []Problem) {
	var probs problems
	p := ParsePolicyDoc(&doc{m: m, probs: &probs})
	return p, probs
}

// ParsePolicyDoc reads a policy's action, description, enabled and limits.
func ParsePolicyDoc(d *doc) Policy {
	p := Policy{Description: d.str("description"), Enabled: d.boolean(true, "enabled")}
	p.ActionRef = d.str("action_ref", "resource_ref", "action")
	if p.ActionRef == "" {
		d.problem("resource_ref", "is required: name the action the policy governs")
	}
	p.Type = d.str("policy_type")
	params := d.mapping("parameters")
	sub := func(key string, m map[string]any) *doc {
		s := &doc{file: d.file, m: m, probs: d.probs, node: valueNode(d.node, key)}
		return s
	}
	switch p.Type {
	case "":
		if c := d.mapping("concurrency"); c != nil {
			s := sub("concurrency", c)
			p.ConcurrencyThreshold = s.count("limit", "threshold")
			if p.ConcurrencyThreshold < 1 {
				s.prefixed("concurrency", "limit", "must be a whole number of at least 1")
			}
			switch s.str("method", "action") {
			case "", "enqueue", "delay":
				p.ConcurrencyAction = "DELAY"
			case "cancel":
				p.ConcurrencyAction = "CANCEL"
			default:
				s.prefixed("concurrency", "method", "must be enqueue or cancel")
			}
			p.ConcurrencyAttributes = s.strs("parameters", "attributes")
		}
		if r := d.mapping("rate_limit"); r != nil {
			s := sub("rate_limit", r)
			p.RateLimitMax = s.count("max_executions")
			p.RateLimitWindowSeconds = s.count("window_seconds")
			if p.RateLimitMax < 1 {
				s.prefixed("rate_limit", "max_executions", "must be a whole number of at least 1")
			}
			if p.RateLimitWindowSeconds < 1 {
				s.prefixed("rate_limit", "window_seconds", "must be a whole number of at least 1")
			}
		}
		if r := d.mapping("retry"); r != nil {
			parseRetry(sub("retry", r), &p, "retry")
		}
		if p.ConcurrencyThreshold == 0 && p.RateLimitMax == 0 && p.RetryMaxCount == 0 && len(*d.probs) == 0 {
			d.problem("policy_type", "is required, or one of concurrency, rate_limit and retry: the policy limits nothing")
		}
	case PolicyConcurrency, PolicyConcurrencyAttr:
		s := sub("parameters", params)
		p.ConcurrencyThreshold = s.count("threshold")
		if p.ConcurrencyThreshold < 1 {
			s.prefixed("parameters", "threshold", "must be a whole number of at least 1")
		}
		switch s.str("action") {
		case "", "delay":
			p.ConcurrencyAction = "DELAY"
		case "cancel":
			p.ConcurrencyAction = "CANCEL"
		default:
			s.prefixed("parameters", "action", "must be delay or cancel")
		}
		if p.Type == PolicyConcurrencyAttr {
			p.ConcurrencyAttributes = s.strs("attributes")
			if len(p.ConcurrencyAttributes) == 0 {
				s.prefixed("parameters", "attributes", "must list the parameters whose values group the executions")
			}
		}
	case PolicyRetry:
		parseRetry(sub("parameters", params), &p, "parameters")
	default:
		d.problem("policy_type", "%q is not supported: use %s, %s or %s, or the concurrency, rate_limit and retry keys",
			p.Type, PolicyConcurrency, PolicyConcurrencyAttr, PolicyRetry)
	}
	return p
}

// parseRetry reads action.retry's parameters.
func parseRetry(s *doc, p *Policy, prefix string) {
	var on []string
	if v, ok := s.m["retry_on"].(string); ok {
		on = []string{v}
	} else {
		on = s.strs("retry_on")
	}
	for _, o := range on {
		switch strings.ToLower(o) {
		case "failure", "failed":
			p.RetryOn = append(p.RetryOn, "FAILED")
		case "timeout":
			p.RetryOn = append(p.RetryOn, "TIMEOUT")
		default:
			s.prefixed(prefix, "retry_on", "must be failure or timeout, not %q", o)
		}
	}
	if len(on) == 0 {
		s.prefixed(prefix, "retry_on", "is required: failure or timeout")
	}
	p.RetryMaxCount = s.count("max_retry_count")
	if p.RetryMaxCount < 1 {
		s.prefixed(prefix, "max_retry_count", "must be a whole number of at least 1")
	}
	p.RetryDelaySeconds = s.count("delay")
}

// prefixed records a problem about key of a nested mapping, named
// prefix.key.
func (d *doc) prefixed(prefix, key, format string, args ...any) {
	d.probs.add(d.file, d.line(key), prefix+"."+key, format, args...)
}
