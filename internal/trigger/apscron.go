package trigger

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// apsFields are StackStorm's cron timer fields (APScheduler's CronTrigger),
// most significant first.
var apsFields = []struct {
	name     string
	min, max int
	dflt     string // the value of an unset field after the last set one
}{
	{"year", 1970, 9999, "*"},
	{"month", 1, 12, "1"},
	{"day", 1, 31, "1"},
	{"week", 1, 53, "*"},
	{"day_of_week", 0, 6, "*"},
	{"hour", 0, 23, "0"},
	{"minute", 0, 59, "0"},
	{"second", 0, 59, "0"},
}

var (
	monthNames   = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	weekdayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	rangeRE      = regexp.MustCompile(`^(\*|[0-9]+|[a-z]+)(?:-([0-9]+|[a-z]+))?(?:/([0-9]+))?$`)
	positionRE   = regexp.MustCompile(`^(1st|2nd|3rd|4th|5th|last) +(mon|tue|wed|thu|fri|sat|sun)$`)
)

// apsCron is a parsed StackStorm cron timer: each field's matcher.
type apsCron struct {
	match [8]func(t time.Time) bool
}

// parseAPSCron reads StackStorm's cron parameters as APScheduler does:
// fields before the last one given default to *, fields after it to
// their minimum (so {minute: 5} fires at second 0 of minute 5 of every
// hour); no field at all fires every second.
func parseAPSCron(p map[string]any) (*apsCron, error) {
	last := -1
	for i, f := range apsFields {
		if p[f.name] != nil {
			last = i
		}
	}
	c := &apsCron{}
	for i, f := range apsFields {
		expr := "*"
		switch {
		case p[f.name] != nil:
			switch v := p[f.name].(type) {
			case string:
				expr = strings.ToLower(strings.TrimSpace(v))
			default:
				n := number(v)
				if n == 0 && fmt.Sprint(v) != "0" {
					return nil, fmt.Errorf("%s must be an integer or a cron expression, not %v", f.name, v)
				}
				expr = strconv.Itoa(int(n))
			}
		case i > last && last >= 0:
			expr = f.dflt
		}
		m, err := fieldMatcher(i, expr)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", f.name, expr, err)
		}
		c.match[i] = m
	}
	return c, nil
}

// matches reports whether t (in the timer's zone) is a firing second.
func (c *apsCron) matches(t time.Time) bool {
	for _, m := range c.match {
		if !m(t) {
			return false
		}
	}
	return true
}

// fieldValue is field i of t as APScheduler numbers it.
func fieldValue(i int, t time.Time) int {
	switch i {
	case 0:
		return t.Year()
	case 1:
		return int(t.Month())
	case 2:
		return t.Day()
	case 3:
		_, w := t.ISOWeek()
		return w
	case 4:
		return (int(t.Weekday()) + 6) % 7 // Monday is 0
	case 5:
		return t.Hour()
	case 6:
		return t.Minute()
	}
	return t.Second()
}

// fieldMatcher parses one field's comma-separated expressions.
func fieldMatcher(i int, expr string) (func(time.Time) bool, error) {
	var ms []func(time.Time) bool
	for _, part := range strings.Split(expr, ",") {
		m, err := partMatcher(i, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return func(t time.Time) bool {
		for _, m := range ms {
			if m(t) {
				return true
			}
		}
		return false
	}, nil
}

// partMatcher parses one expression: *, */n, a, a-b, a-b/n, a/n, a name
// (months, weekdays), and in the day field "last" and "<nth|last> <weekday>".
func partMatcher(i int, part string) (func(time.Time) bool, error) {
	f := apsFields[i]
	if f.name == "day" {
		if part == "last" {
			return func(t time.Time) bool { return t.AddDate(0, 0, 1).Day() == 1 }, nil
		}
		if m := positionRE.FindStringSubmatch(part); m != nil {
			wd := index(weekdayNames, m[2])
			nth := strings.Index("1st2nd3rd4th5th", m[1])/3 + 1
			return func(t time.Time) bool {
				if (int(t.Weekday())+6)%7 != wd {
					return false
				}
				if m[1] == "last" {
					return t.AddDate(0, 0, 7).Month() != t.Month()
				}
				return (t.Day()-1)/7+1 == nth
			}, nil
		}
	}
	m := rangeRE.FindStringSubmatch(part)
	if m == nil {
		return nil, fmt.Errorf("unrecognised expression %q", part)
	}
	lo, hi := f.min, f.max
	if m[1] != "*" {
		var err error
		if lo, err = fieldNumber(i, m[1]); err != nil {
			return nil, err
		}
		hi = lo
		if m[3] != "" {
			hi = f.max
		}
	} else if m[2] != "" {
		return nil, fmt.Errorf("* cannot start a range")
	}
	if m[2] != "" {
		var err error
		if hi, err = fieldNumber(i, m[2]); err != nil {
			return nil, err
		}
	}
	step := 1
	if m[3] != "" {
		step, _ = strconv.Atoi(m[3])
		if step < 1 {
			return nil, fmt.Errorf("step must be positive")
		}
	}
	if lo > hi {
		return nil, fmt.Errorf("range %d-%d is empty", lo, hi)
	}
	return func(t time.Time) bool {
		v := fieldValue(i, t)
		return v >= lo && v <= hi && (v-lo)%step == 0
	}, nil
}

// fieldNumber reads a value of field i: a number in its range, or a
// month or weekday name.
func fieldNumber(i int, s string) (int, error) {
	f := apsFields[i]
	if n, err := strconv.Atoi(s); err == nil {
		if n < f.min || n > f.max {
			return 0, fmt.Errorf("%d is outside %d-%d", n, f.min, f.max)
		}
		return n, nil
	}
	switch f.name {
	case "month":
		if k := index(monthNames, s); k >= 0 {
			return k + 1, nil
		}
	case "day_of_week":
		if k := index(weekdayNames, s); k >= 0 {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%q is not a value of %s", s, f.name)
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
