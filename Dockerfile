# syntax=docker/dockerfile:1
# Multi-stage build: a static attune binary (pure-Go SQLite, no cgo) with the
# GraphiQL assets fetched from npm at build time, and its small action
# launcher attune-sandbox, on a slim runtime that has what pack runners need
# (python3 + venv, bash, git, node).
#
# The server runs as root inside the container so that it can run every
# action and environment build as the unprivileged attune-action user
# (worker.run_as), confined by Landlock and its own PID and mount namespaces
# (docs/security.md): an action then cannot read the data directory (0711,
# database and keys 0600), the server's environment or memory, or other packs.
# A non-root server would run actions as itself, held by Landlock alone.
# Docker's default seccomp profile refuses new namespaces to processes
# without CAP_SYS_ADMIN: there the server falls back to Landlock, the
# separate user and no_new_privs (it logs what is missing, and systemInfo
# shows it); worker.require_isolation: true would refuse to start. Run with
# a seccomp profile that allows clone/unshare of PID and mount namespaces
# to get all of it.

FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN bash internal/playground/fetch-assets.sh
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/attune ./server \
    && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/attune-sandbox ./internal/sandbox/cmd/attune-sandbox

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates python3 python3-venv python3-pip bash git nodejs npm tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin attune-action \
    && install -d -m 0755 /var/lib/attune
COPY --from=build /out/attune /out/attune-sandbox /usr/local/bin/
WORKDIR /var/lib/attune
ENV ATTUNE_DATA_DIR=/var/lib/attune/data \
    ATTUNE_LISTEN=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/var/lib/attune/data"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/attune"]
CMD ["serve"]
