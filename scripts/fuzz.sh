#!/usr/bin/env bash
# Every fuzz target of the module, longer than scripts/test.sh runs them:
# FUZZTIME each (default 2m), one after the other. New crashers land in
# the package's testdata/fuzz/, where go test replays them from then on.
#
#   scripts/fuzz.sh                 every target, 2 minutes each
#   FUZZTIME=10m scripts/fuzz.sh ./eventbus ./jobqueue
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FUZZTIME:=2m}"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
for pkg in $(go list "${pkgs[@]}"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($FUZZTIME)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg"
	done
done
