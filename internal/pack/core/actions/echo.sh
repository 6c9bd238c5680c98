#!/bin/sh
# core.echo: the message is the first argument (StackStorm's local-shell-script
# convention); printf prints it byte for byte where echo would read -n or \c.
printf '%s\n' "$1"
