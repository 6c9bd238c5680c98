#!/usr/bin/env bash
# Fetches the browser assets of the GraphiQL playground from the npm registry into assets/,
# where `//go:embed assets` picks them up, so the playground works without any CDN.
# Versions are pinned to what gqlgen v0.17.98's playground page was written for.
# Idempotent: when assets/.versions matches the pins and every file is present, it does nothing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# One line per file: npm package spec, path inside the package tarball, name under assets/.
# The names under assets/ must match the constants in playground.go.
readonly MANIFEST='graphiql@4.1.2 package/graphiql.min.js graphiql.min.js
graphiql@4.1.2 package/graphiql.min.css graphiql.min.css
react@18.2.0 package/umd/react.production.min.js react.production.min.js
react-dom@18.2.0 package/umd/react-dom.production.min.js react-dom.production.min.js
@graphiql/plugin-explorer@4.0.6 package/dist/index.umd.js plugin-explorer.umd.js
@graphiql/plugin-explorer@4.0.6 package/dist/style.css plugin-explorer.css'
readonly STAMP=assets/.versions

complete() {
	[[ -f $STAMP && "$(<"$STAMP")" == "$MANIFEST" ]] || return 1
	local spec src name
	while read -r spec src name; do
		[[ -s assets/$name ]] || return 1
	done <<<"$MANIFEST"
}

if complete; then
	echo "playground assets: up to date"
	exit 0
fi

command -v npm >/dev/null || { echo "playground assets: npm not found (install Node.js with npm)" >&2; exit 1; }

mkdir -p assets
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/out"
while read -r spec src name; do
	dir="$tmp/${spec//[@\/]/_}"
	if [[ ! -d $dir ]]; then
		mkdir "$dir"
		(cd "$dir" && npm pack --loglevel=error "$spec" >/dev/null </dev/null) ||
			{ echo "playground assets: npm pack $spec failed" >&2; exit 1; }
		tar -xzf "$dir"/*.tgz -C "$dir"
	fi
	[[ -s $dir/$src ]] || { echo "playground assets: $src missing from $spec" >&2; exit 1; }
	cp "$dir/$src" "$tmp/out/$name"
done <<<"$MANIFEST"

# Replace everything but the committed README.md, so no stale file gets embedded.
find assets -mindepth 1 ! -name README.md -delete
cp "$tmp/out"/* assets/
printf '%s' "$MANIFEST" >"$STAMP"
echo "playground assets: fetched into $(pwd)/assets"
