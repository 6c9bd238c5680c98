package store

import "testing"

func TestCacheable(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]bool{
		`SELECT 1`:                                    true,
		"SELECT 1;\n  ":                               true,
		"SELECT 1; -- done\n;/* really */ ":           true,
		`SELECT ';x' FROM t WHERE a = 'it''s; ok'`:    true,
		`SELECT "a;b", [c;d], ` + "`e;f`" + ` FROM t`: true,
		"-- one; two\nSELECT 1 /* three; four */":     true,
		"SELECT 1 - 2 / 3":                            true,
		`SELECT 1; SELECT 2`:                          false,
		"CREATE TABLE a (x);\nCREATE TABLE b (y);":    false,
		"SELECT 1; -":                                 false,
		"SELECT 1; /* open":                           false,
		"SELECT 'open":                                false,
		"SELECT 1 /* open":                            false,
	} {
		if got := cacheable(q); got != want {
			t.Errorf("cacheable(%q) = %v, want %v", q, got, want)
		}
	}
}
