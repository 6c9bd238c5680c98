package jinja

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// version is a semantic version as python-semver's Version.parse reads it.
type version struct {
	major, minor, patch int
	pre, build          string
}

var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func parseVersion(v any) (version, error) {
	s, ok := v.(string)
	if !ok {
		return version{}, errors.New("a version must be a string")
	}
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return version{}, fmt.Errorf("%s is not valid SemVer string", s)
	}
	var out version
	var err error
	if out.major, err = strconv.Atoi(m[1]); err != nil {
		return version{}, err
	}
	if out.minor, err = strconv.Atoi(m[2]); err != nil {
		return version{}, err
	}
	if out.patch, err = strconv.Atoi(m[3]); err != nil {
		return version{}, err
	}
	out.pre, out.build = m[4], m[5]
	return out, nil
}

func (v version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
	if v.pre != "" {
		s += "-" + v.pre
	}
	if v.build != "" {
		s += "+" + v.build
	}
	return s
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare orders versions by SemVer precedence (build metadata ignored).
func (v version) compare(o version) int {
	for _, c := range []int{cmpInt(v.major, o.major), cmpInt(v.minor, o.minor), cmpInt(v.patch, o.patch)} {
		if c != 0 {
			return c
		}
	}
	switch {
	case v.pre == o.pre:
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	a, b := strings.Split(v.pre, "."), strings.Split(o.pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aerr := strconv.Atoi(a[i])
		bi, berr := strconv.Atoi(b[i])
		var c int
		switch {
		case aerr == nil && berr == nil:
			c = cmpInt(ai, bi)
		case aerr == nil:
			c = -1
		case berr == nil:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}

func versionCompare(in any, args []any, kwargs map[string]any) (any, error) {
	a, err := parseVersion(in)
	if err != nil {
		return nil, err
	}
	b, err := parseVersion(arg(args, kwargs, 0, "pattern", nil))
	if err != nil {
		return nil, err
	}
	return a.compare(b), nil
}

func versionCmp(want int) filter {
	return func(in any, args []any, kwargs map[string]any) (any, error) {
		c, err := versionCompare(in, args, kwargs)
		if err != nil {
			return nil, err
		}
		return c == want, nil
	}
}

// versionMatch is Version.match: a comparison operator and a version,
// ">=1.0.0"; no operator means ==.
func versionMatch(in any, args []any, kwargs map[string]any) (any, error) {
	a, err := parseVersion(in)
	if err != nil {
		return nil, err
	}
	expr, ok := arg(args, kwargs, 0, "pattern", nil).(string)
	if !ok {
		return nil, errors.New("the pattern must be a string")
	}
	op := ""
	for _, o := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if strings.HasPrefix(expr, o) {
			op = o
			break
		}
	}
	if op == "" {
		if expr != "" && (expr[0] >= '0' && expr[0] <= '9') {
			op = "=="
		} else {
			return nil, fmt.Errorf("match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']. You provided: %q", expr)
		}
	} else {
		expr = expr[len(op):]
	}
	b, err := parseVersion(expr)
	if err != nil {
		return nil, err
	}
	c := a.compare(b)
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	case ">=":
		return c >= 0, nil
	case "!=":
		return c != 0, nil
	}
	return c == 0, nil
}

func versionBump(part int) filter {
	return func(in any, _ []any, _ map[string]any) (any, error) {
		v, err := parseVersion(in)
		if err != nil {
			return nil, err
		}
		switch part {
		case 0:
			v = version{major: v.major + 1}
		case 1:
			v = version{major: v.major, minor: v.minor + 1}
		default:
			v = version{major: v.major, minor: v.minor, patch: v.patch + 1}
		}
		return v.String(), nil
	}
}

func versionStripPatch(in any, _ []any, _ map[string]any) (any, error) {
	v, err := parseVersion(in)
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("%d.%d", v.major, v.minor), nil
}
