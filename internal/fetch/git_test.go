package fetch_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
)

// runGit runs git in dir with a fixed identity and no user configuration.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// commitVersion sets pack.yaml's version and commits, returning the sha.
func commitVersion(t *testing.T, repo, version string) string {
	t.Helper()
	body := strings.Replace(packFiles["pack.yaml"], "1.0.0", version, 1)
	require.NoError(t, os.WriteFile(filepath.Join(repo, "pack.yaml"), []byte(body), 0o644))
	runGit(t, repo, "add", "-A")
	runGit(t, repo, "commit", "-q", "-m", version)
	return runGit(t, repo, "rev-parse", "HEAD")
}

// gitRepo creates a pack repository: v1 (tagged v1) then v2 on main, and v3
// on branches feature and beefcafe (a name that looks like a commit id). It
// returns the repo and v1's commit.
func gitRepo(t *testing.T) (repo, v1 string) {
	t.Helper()
	repo = filepath.Join(t.TempDir(), "repo")
	runGit(t, "", "init", "-q", "-b", "main", repo)
	writePack(t, repo)
	v1 = commitVersion(t, repo, "1.0.0")
	runGit(t, repo, "tag", "-a", "-m", "v1", "v1")
	commitVersion(t, repo, "2.0.0")
	runGit(t, repo, "checkout", "-q", "-b", "feature")
	commitVersion(t, repo, "3.0.0")
	runGit(t, repo, "branch", "beefcafe")
	runGit(t, repo, "checkout", "-q", "main")
	return repo, v1
}

func TestFetchGit(t *testing.T) {
	t.Parallel()
	repo, v1 := gitRepo(t)
	fileURL := "file://" + repo
	tests := []struct {
		source  string
		version string
	}{
		{fileURL, "2.0.0"},
		{repo, "2.0.0"},
		{fileURL + "#feature", "3.0.0"},
		{repo + "#feature", "3.0.0"},
		{repo + "#beefcafe", "3.0.0"},
		{fileURL + "#v1", "1.0.0"},
		{fileURL + "#" + v1, "1.0.0"},
		{repo + "#" + v1[:10], "1.0.0"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.source, repo), func(t *testing.T) {
			t.Parallel()
			src, err := fetch.Parse(tt.source)
			require.NoError(t, err)
			require.Equal(t, fetch.KindGit, src.Kind)
			parent, dst := newDst(t)
			require.NoError(t, fetch.Fetch(t.Context(), src, dst, fetch.Limits{AllowedDirs: []string{filepath.Dir(repo)}}))
			want := map[string]string{}
			for name, body := range packFiles {
				want[name] = strings.Replace(body, "1.0.0", tt.version, 1)
			}
			require.Equal(t, want, readTree(t, dst), "no .git, files of the ref")
			requireExec(t, filepath.Join(dst, "actions", "run.sh"), true)
			requireOnlyDst(t, parent)
		})
	}
}

func TestFetchGitRefuses(t *testing.T) {
	t.Parallel()
	repo, _ := gitRepo(t)
	linked := filepath.Join(t.TempDir(), "linked")
	runGit(t, "", "init", "-q", "-b", "main", linked)
	writePack(t, linked)
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(linked, "passwd")))
	runGit(t, linked, "add", "-A")
	runGit(t, linked, "commit", "-q", "-m", "link")

	tests := []struct {
		name string
		src  fetch.Source
		lim  fetch.Limits
		code string
		want string
	}{
		{"unknown branch", fetch.Source{Kind: fetch.KindGit, Location: "file://" + repo, Ref: "nope"}, fetch.Limits{}, fetch.CodeNotFound, `git ref "nope" not found`},
		{"unknown commit", fetch.Source{Kind: fetch.KindGit, Location: repo, Ref: "deadbeef00"}, fetch.Limits{}, fetch.CodeNotFound, `git ref "deadbeef00" not found`},
		{"symlink in checkout", fetch.Source{Kind: fetch.KindGit, Location: linked}, fetch.Limits{}, fetch.CodeBadUserInput, `"passwd" is a symbolic link`},
		{"outside AllowedDirs", fetch.Source{Kind: fetch.KindGit, Location: "file://" + repo}, fetch.Limits{AllowedDirs: []string{t.TempDir()}}, fetch.CodeBadUserInput, "outside the allowed directories"},
		{"missing local repository", fetch.Source{Kind: fetch.KindGit, Location: "file://" + repo + "-missing"}, fetch.Limits{}, fetch.CodeNotFound, "does not exist"},
		{"not a repository", fetch.Source{Kind: fetch.KindGit, Location: t.TempDir()}, fetch.Limits{}, fetch.CodeBadUserInput, "does not appear to be a git repository"},
		{"unreachable https with credentials", fetch.Source{Kind: fetch.KindGit, Location: "https://alice:s3cret@127.0.0.1:1/repo.git"}, fetch.Limits{}, fetch.CodeBadUserInput, "git clone https://REDACTED@127.0.0.1:1/repo.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, dst := newDst(t)
			err := fetch.Fetch(t.Context(), tt.src, dst, tt.lim)
			requireCode(t, err, tt.code, tt.want)
			require.NotContains(t, err.Error(), "s3cret")
			require.NotContains(t, err.Error(), "alice")
			requireOnlyDst(t, parent)
		})
	}
}
