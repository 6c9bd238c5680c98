package store

import (
	"strings"
	"testing"
)

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

func TestStableLimit(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		`SELECT 1 LIMIT 10`:                          `SELECT 1 LIMIT 10`,
		`SELECT id FROM t LIMIT ?`:                   `SELECT id FROM t LIMIT +?`,
		"SELECT id FROM t\n    LIMIT ?5\n)":          "SELECT id FROM t\n    LIMIT +?5\n)",
		`SELECT id FROM t limit :n OFFSET 2`:         `SELECT id FROM t limit +:n OFFSET 2`,
		`SELECT id FROM t LIMIT @max`:                `SELECT id FROM t LIMIT +@max`,
		`SELECT id FROM t LIMIT $1`:                  `SELECT id FROM t LIMIT +$1`,
		`SELECT id FROM t LIMIT ?1 - 1`:              `SELECT id FROM t LIMIT +?1 - 1`,
		`SELECT (SELECT x LIMIT ?) LIMIT ?`:          `SELECT (SELECT x LIMIT +?) LIMIT +?`,
		`SELECT 'LIMIT ?' FROM t`:                    `SELECT 'LIMIT ?' FROM t`,
		`SELECT "LIMIT ?" FROM t`:                    `SELECT "LIMIT ?" FROM t`,
		"SELECT 1 -- LIMIT ?\n":                      "SELECT 1 -- LIMIT ?\n",
		"SELECT 1 /* LIMIT ? */":                     "SELECT 1 /* LIMIT ? */",
		`SELECT nolimit ? FROM t`:                    `SELECT nolimit ? FROM t`,
		`SELECT limits ? FROM t`:                     `SELECT limits ? FROM t`,
		`SELECT x_LIMIT ?`:                           `SELECT x_LIMIT ?`,
		`SELECT 1 LIMIT`:                             `SELECT 1 LIMIT`,
		`SELECT 'open LIMIT ?`:                       `SELECT 'open LIMIT ?`,
		`SELECT 1 LIMIT ? /* open`:                   `SELECT 1 LIMIT +? /* open`,
		`SELECT 1 LIMIT ?; SELECT 2 LIMIT ?`:         `SELECT 1 LIMIT +?; SELECT 2 LIMIT +?`,
		"SELECT `LIMIT ?`, [LIMIT ?] FROM t LIMIT ?": "SELECT `LIMIT ?`, [LIMIT ?] FROM t LIMIT +?",
	} {
		if got := stableLimit(q); got != want {
			t.Errorf("stableLimit(%q) = %q, want %q", q, got, want)
		}
	}
}

// FuzzStableLimit: the rewrite only ever adds '+' signs, each right after a
// LIMIT keyword's white space, so removing them gives the text back.
func FuzzStableLimit(f *testing.F) {
	for _, s := range []string{"SELECT 1 LIMIT ?", "x LIMIT ?5) LIMIT :a", "'LIMIT ?' LIMIT @b", "/* LIMIT ? */ limit $1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := stableLimit(q)
		if len(got) < len(q) {
			t.Fatalf("stableLimit(%q) = %q shrank", q, got)
		}
		// Walk both: every extra byte must be a '+' in front of a parameter.
		i, j := 0, 0
		for i < len(q) {
			if q[i] == got[j] {
				i, j = i+1, j+1
				continue
			}
			if got[j] != '+' || !strings.ContainsRune("?:@$", rune(q[i])) {
				t.Fatalf("stableLimit(%q) = %q changed byte %d", q, got, i)
			}
			j++
		}
		if j != len(got) {
			t.Fatalf("stableLimit(%q) = %q added a tail", q, got)
		}
	})
}
