#!/bin/bash
# Named arguments (--loud, --x=y) come first, then the positional ones.
loud=0
pos=()
for a in "$@"; do
	case "$a" in
	--loud) loud=1 ;;
	--*) ;;
	*) pos+=("$a") ;;
	esac
done
msg="${pos[0]}, ${pos[1]}!"
if [ "$loud" = 1 ]; then
	msg=${msg^^}
fi
echo "$msg"
