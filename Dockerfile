# syntax=docker/dockerfile:1
# Multi-stage build: a static attune binary (pure-Go SQLite, no cgo) with the
# GraphiQL assets fetched from npm at build time, on a slim runtime that has
# what pack runners need (python3 + venv, bash, git, node) and runs as non-root.

FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN bash internal/playground/fetch-assets.sh
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/attune ./server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates python3 python3-venv python3-pip bash git nodejs npm tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/attune --create-home attune
COPY --from=build /out/attune /usr/local/bin/attune
USER attune
WORKDIR /var/lib/attune
ENV ATTUNE_DATA_DIR=/var/lib/attune/data \
    ATTUNE_LISTEN=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/var/lib/attune/data"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/attune"]
CMD ["serve"]
