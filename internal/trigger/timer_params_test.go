package trigger

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckParams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		trigger string
		params  map[string]any
		ok      bool
	}{
		{"IntervalJSON", IntervalTimer, map[string]any{"unit": "seconds", "interval": 10.0}, true},
		{"IntervalYAML", IntervalTimer, map[string]any{"unit": "minutes", "interval": 5}, true},
		{"IntervalGraphQL", IntervalTimer, map[string]any{"interval": int64(2)}, true},
		{"IntervalNumber", IntervalTimer, map[string]any{"interval": json.Number("3")}, true},
		{"IntervalZero", IntervalTimer, map[string]any{"interval": 0}, false},
		{"IntervalBadUnit", IntervalTimer, map[string]any{"unit": "weeks", "interval": 1}, false},
		{"Cron", CronTimer, map[string]any{"expression": "0 */5 * * * *", "timezone": "Europe/Paris"}, true},
		{"CronBad", CronTimer, map[string]any{"expression": "bogus"}, false},
		{"CronBadZone", CronTimer, map[string]any{"expression": "0 * * * * *", "timezone": "Mars/Olympus"}, false},
		{"DateTime", DateTimeTimer, map[string]any{"fire_at": "2030-01-01T00:00:00Z"}, true},
		{"DateTimeBad", DateTimeTimer, map[string]any{"fire_at": "tomorrow"}, false},
		{"NotATimer", "core.webhook", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckParams(tc.trigger, tc.params)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
