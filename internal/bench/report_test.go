package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An informational figure (no goal) shows — for its goal and verdict, and
// a judged one its goal with the verdict.
func TestReportInformationalFigure(t *testing.T) {
	t.Parallel()
	r := &Report{Figures: []Figure{
		{Name: "judged", Backend: "sqlite", Value: "5/s", Goal: "≥ 1/s", Met: verdict(false), Detail: "d1"},
		{Name: "informational", Backend: "sqlite", Value: "7/s", Detail: "d2"},
	}}
	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[1], "≥ 1/s (MISSED)")
	require.Equal(t, []string{"sqlite", "informational", "7/s", "—", "—", "—"}, strings.Fields(lines[2]))

	md := string(r.Markdown(""))
	require.Contains(t, md, "| judged | sqlite | 5/s | — | — | ≥ 1/s | **MISSED** |\n")
	require.Contains(t, md, "| informational | sqlite | 7/s | — | — | — | — |\n")
	require.Contains(t, md, "- **informational** (sqlite): d2.\n")
}
