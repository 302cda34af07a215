#!/usr/bin/env bash
# The whole test suite: formatting, vet, golangci-lint, race tests, a short
# fuzz pass over every fuzz target, and one iteration of every benchmark.
# README.md and .ci/run both call exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step gofmt
bad=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$bad" ]; then printf 'gofmt would change:\n%s\n' "$bad"; exit 1; fi

step "go mod tidy"
go mod tidy -diff

step "go vet"
go vet ./...
# The wasm guest kit and the example guest also build for their target.
GOOS=wasip1 GOARCH=wasm go vet ./wasm/guest/ ./examples/wasm/denylist/

step "golangci-lint (staticcheck and the linters in .golangci.yml)"
go tool -modfile=tools/go.mod golangci-lint run ./...

step "nats-server binary for the external and cluster tests"
# Built once from the module version in go.mod, where internal/natstest
# looks for it; the tests would build it themselves, but in parallel.
v=$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/ply-natstest/${v}-$(go env GOOS)-$(go env GOARCH)"
if [ ! -x "$dir/nats-server" ]; then
	mkdir -p "$dir"
	go build -o "$dir/nats-server.tmp" github.com/nats-io/nats-server/v2
	mv "$dir/nats-server.tmp" "$dir/nats-server"
fi
"$dir/nats-server" --version

step "go test -race"
go test -race -shuffle=on -count=1 -timeout=20m ./...

step "fuzz (${FUZZTIME:=5s} per target)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "$pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/dev/null
	done
done

step "benchmarks (one iteration each)"
go test -run='^$' -bench=. -benchtime=1x ./... >/dev/null

step "bench module: ply beside its peers (one iteration each)"
# A module of its own, so alice, chi and watermill stay out of ply's go.mod.
(
	cd bench
	go mod tidy -diff
	go vet ./...
	go tool -modfile=../tools/go.mod golangci-lint run ./...
	go test -run='^$' -bench=. -benchtime=1x ./... >/dev/null
)

step "all checks passed"
