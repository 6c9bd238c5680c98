package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run took place.
type Machine struct {
	CPU                string
	Cores              int
	Memory             string
	Kernel             string
	Go                 string
	PostgreSQL, SQLite string
	Date               string
}

// describeMachine reads the CPU, memory and kernel from /proc, and the
// database versions from the databases themselves.
func describeMachine(ctx context.Context, postgresURL string) (Machine, error) {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		CPU: "unknown CPU", Memory: "unknown", Kernel: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseInt(strings.TrimSuffix(procField(b, "MemTotal"), " kB"), 10, 64); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	lite, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return m, fmt.Errorf("opening SQLite: %w", err)
	}
	defer lite.Close()
	if err := lite.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&m.SQLite); err != nil {
		return m, fmt.Errorf("reading SQLite version: %w", err)
	}
	if postgresURL == "" {
		return m, nil
	}
	pg, err := sql.Open("postgres", postgresURL)
	if err != nil {
		return m, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	defer pg.Close()
	if err := pg.QueryRowContext(ctx, "SHOW server_version").Scan(&m.PostgreSQL); err != nil {
		return m, fmt.Errorf("reading PostgreSQL version: %w", err)
	}
	return m, nil
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(b []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
