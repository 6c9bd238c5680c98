#!/bin/sh
# core.pause: $1 is max_pause (StackStorm passes an integer 0 as an empty
# argument), $2 is random as 1 or 0.
max=${1:-0}
delay=$max
if [ "$2" = 1 ] && [ "$max" -ge 1 ]; then
	delay=$(awk -v max="$max" 'BEGIN { srand(); print int(1 + rand() * max) }')
fi
sleep "$delay"
echo "$delay"
