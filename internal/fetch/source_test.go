package fetch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "dir")
	repo := filepath.Join(tmp, "repo")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))
	for _, name := range []string{"p.tar.gz", "p.TGZ", "p.zip", "p.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), nil, 0o644))
	}

	tests := []struct {
		source string
		want   fetch.Source
		code   string // expected error code; empty for success
	}{
		{source: "https://example.com/p.tar.gz", want: fetch.Source{Kind: fetch.KindURL, Location: "https://example.com/p.tar.gz"}},
		{source: "http://example.com/dl/p.tgz?sig=abc", want: fetch.Source{Kind: fetch.KindURL, Location: "http://example.com/dl/p.tgz?sig=abc"}},
		{source: " https://example.com/p.zip#ignored ", want: fetch.Source{Kind: fetch.KindURL, Location: "https://example.com/p.zip"}},
		{source: "https://github.com/org/repo.git#v1.2.0", want: fetch.Source{Kind: fetch.KindGit, Location: "https://github.com/org/repo.git", Ref: "v1.2.0"}},
		{source: "https://github.com/org/repo", want: fetch.Source{Kind: fetch.KindGit, Location: "https://github.com/org/repo"}},
		{source: "git@github.com:org/repo.git#feature/x", want: fetch.Source{Kind: fetch.KindGit, Location: "git@github.com:org/repo.git", Ref: "feature/x"}},
		{source: "file:///srv/repo#0123abc", want: fetch.Source{Kind: fetch.KindGit, Location: "file:///srv/repo", Ref: "0123abc"}},
		{source: dir, want: fetch.Source{Kind: fetch.KindDir, Location: dir}},
		{source: dir + "/", want: fetch.Source{Kind: fetch.KindDir, Location: dir}},
		{source: repo, want: fetch.Source{Kind: fetch.KindGit, Location: repo}},
		{source: repo + "#main", want: fetch.Source{Kind: fetch.KindGit, Location: repo, Ref: "main"}},
		{source: filepath.Join(tmp, "p.tar.gz"), want: fetch.Source{Kind: fetch.KindArchive, Location: filepath.Join(tmp, "p.tar.gz")}},
		{source: filepath.Join(tmp, "p.TGZ"), want: fetch.Source{Kind: fetch.KindArchive, Location: filepath.Join(tmp, "p.TGZ")}},
		{source: filepath.Join(tmp, "p.zip"), want: fetch.Source{Kind: fetch.KindArchive, Location: filepath.Join(tmp, "p.zip")}},
		{source: "", code: fetch.CodeBadUserInput},
		{source: "http://example.com/repo.git", code: fetch.CodeBadUserInput},
		{source: "https://", code: fetch.CodeBadUserInput},
		{source: "ftp://example.com/p.tar.gz", code: fetch.CodeBadUserInput},
		{source: "ext::sh -c evil", code: fetch.CodeBadUserInput},
		{source: "file://host/srv/repo", code: fetch.CodeBadUserInput},
		{source: "https://github.com/org/repo.git#--upload-pack=evil", code: fetch.CodeBadUserInput},
		{source: "https://github.com/org/repo.git#a..b", code: fetch.CodeBadUserInput},
		{source: "relative/dir", code: fetch.CodeBadUserInput},
		{source: filepath.Join(tmp, "p.txt"), code: fetch.CodeBadUserInput},
		{source: filepath.Join(tmp, "missing"), code: fetch.CodeNotFound},
		{source: dir + "#main", code: fetch.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			t.Parallel()
			got, err := fetch.Parse(tt.source)
			if tt.code != "" {
				requireCode(t, err, tt.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"pack.tar.gz": fetch.FormatTarGz, "PACK.TGZ": fetch.FormatTarGz, "/x/pack.zip": fetch.FormatZip,
		"pack.tar": "", "pack": "", "pack.gz": "",
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, fetch.FormatOf(name))
		})
	}
}
