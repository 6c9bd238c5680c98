package trigger

import (
	"encoding/json"
	"testing"
	"time"

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
		{"St2Interval", St2IntervalTimer, map[string]any{"unit": "seconds", "delta": 1}, true},
		{"St2IntervalWeeks", St2IntervalTimer, map[string]any{"unit": "weeks", "delta": 2.0, "timezone": "UTC"}, true},
		{"St2IntervalNoDelta", St2IntervalTimer, map[string]any{"unit": "seconds"}, false},
		{"St2IntervalBadUnit", St2IntervalTimer, map[string]any{"unit": "fortnights", "delta": 1}, false},
		{"St2Cron", St2CronTimer, map[string]any{"minute": "*/5", "day_of_week": "mon-fri", "timezone": "Europe/Paris"}, true},
		{"St2CronInts", St2CronTimer, map[string]any{"hour": 3, "minute": 0, "second": 0}, true},
		{"St2CronPosition", St2CronTimer, map[string]any{"day": "last fri,1st mon", "month": "jan-mar"}, true},
		{"St2CronOutOfRange", St2CronTimer, map[string]any{"hour": 24}, false},
		{"St2CronBadExpr", St2CronTimer, map[string]any{"minute": "every"}, false},
		{"St2Date", St2DateTimer, map[string]any{"date": "2030-12-31 23:59:59", "timezone": "America/New_York"}, true},
		{"St2DateRFC3339", St2DateTimer, map[string]any{"date": "2030-12-31T23:59:59Z"}, true},
		{"St2DateBad", St2DateTimer, map[string]any{"date": "soon"}, false},
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

// TestAPSCron checks StackStorm's cron fields as APScheduler reads them.
func TestAPSCron(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name   string
		params map[string]any
		yes    []string
		no     []string
	}{
		// Fields after the last given default to their minimum.
		{"Minute", map[string]any{"minute": 5}, []string{"2030-01-07 13:05:00"}, []string{"2030-01-07 13:05:01", "2030-01-07 13:06:00"}},
		// Fields before it are *.
		{"HourSecond", map[string]any{"hour": 3, "second": 10}, []string{"2030-01-07 03:17:10"}, []string{"2030-01-07 03:17:11", "2030-01-07 04:17:10"}},
		{"Nothing", map[string]any{}, []string{"2030-01-07 03:17:10", "2030-01-07 03:17:11"}, nil},
		// Monday is 0, names work, ranges and steps.
		{"Weekdays", map[string]any{"day_of_week": "mon-fri", "hour": "9-17/4"}, []string{"2030-01-07 09:00:00", "2030-01-11 17:00:00"},
			[]string{"2030-01-12 09:00:00", "2030-01-07 10:00:00", "2030-01-07 09:00:01"}},
		{"DayOfWeekZero", map[string]any{"day_of_week": 0}, []string{"2030-01-07 00:00:00"}, []string{"2030-01-06 00:00:00"}},
		{"LastDay", map[string]any{"day": "last"}, []string{"2030-02-28 00:00:00"}, []string{"2030-02-27 00:00:00"}},
		{"LastFriday", map[string]any{"day": "last fri"}, []string{"2030-01-25 00:00:00"}, []string{"2030-01-18 00:00:00"}},
		{"Week", map[string]any{"week": 2}, []string{"2030-01-07 00:00:00"}, []string{"2030-01-14 00:00:00"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseAPSCron(tc.params)
			require.NoError(t, err)
			for _, s := range tc.yes {
				require.True(t, c.matches(at(s)), s)
			}
			for _, s := range tc.no {
				require.False(t, c.matches(at(s)), s)
			}
		})
	}
}
