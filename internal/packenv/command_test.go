package packenv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTailWriter(t *testing.T) {
	t.Parallel()
	var logged []string
	w := &tailWriter{log: func(line string) { logged = append(logged, line) }}
	for i := range 30 {
		_, err := fmt.Fprintf(w, "line %d\r\n", i)
		require.NoError(t, err)
	}
	_, err := w.Write([]byte("par"))
	require.NoError(t, err)
	_, err = w.Write([]byte("tial"))
	require.NoError(t, err)
	require.Len(t, logged, 30, "an unterminated line waits for its end")
	w.flush()
	require.Len(t, logged, 31)
	require.Equal(t, "line 29", logged[29])
	require.Len(t, w.tail, errorTailLines)
	require.Equal(t, "line 11", w.tail[0])
	require.Equal(t, "partial", w.tail[errorTailLines-1])

	_, err = w.Write([]byte(strings.Repeat("z", maxLineBytes+1)))
	require.NoError(t, err)
	require.Len(t, logged, 32, "an endless line is flushed once it is too long")
}
