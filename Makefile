# attune: make help lists the targets.
SHELL := /bin/bash
GO ?= go
export GOFLAGS := -mod=mod
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_/-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: assets
assets: ## Fetch GraphiQL/React JS+CSS from npm into internal/playground/assets (embedded by go build)
	@bash internal/playground/fetch-assets.sh

.PHONY: build
build: assets ## Build the attune binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/attune ./server
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/attune-sandbox ./internal/sandbox/cmd/attune-sandbox

.PHONY: run
run: assets ## Run the server on the embedded SQLite default (http://127.0.0.1:8080/); flags in ARGS='-listen …'
	$(strip $(GO) run ./server $(ARGS))

.PHONY: generate
generate: ## Regenerate ent, GraphQL, migrations and the CLI client from ent/schema, *.graphqls, gqlgen.yml and internal/cli/operations.graphql
	$(GO) run ./ent/entc.go
	$(GO) run ./graph/gqlgen.go
	$(GO) run ./migrations/gen
	$(GO) tool genqlient internal/cli/genqlient.yaml

.PHONY: verify
verify: generate ## Fail if generated code or migrations are out of date
	@test -z "$$(git status --porcelain -- ent graph migrations internal/cli go.mod go.sum)" || \
		{ git status --porcelain -- ent graph migrations internal/cli go.mod go.sum; echo "make generate changed files: commit them"; exit 1; }

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: test
test: assets vet ## Vet, then run every test on SQLite and PostgreSQL (TEST_DATABASE_URL)
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: bench
bench: ## End-to-end benchmarks on SQLite and PostgreSQL into docs/BENCHMARKS.md (~10 min), then the Go benchmarks
	$(GO) run ./internal/bench/cmd/attune-bench -out docs/BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem ./internal/... ./graph/...

.PHONY: bench-smoke
bench-smoke: ## The benchmarks at tiny sizes, only to keep them working (CI)
	$(GO) run ./internal/bench/cmd/attune-bench -smoke
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/... ./graph/...
