package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// shaRE matches what is probably an abbreviated or full commit id (SHA-1 or
// SHA-256), which `git clone --branch` cannot take.
var shaRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// gitWaitDelay bounds how long a killed git may keep its pipes open (via
// helpers such as git-remote-https) before Run gives up on them.
const gitWaitDelay = time.Second

// fetchGit clones src into a temporary directory beside dst and copies the
// checkout into dst without .git, refusing links like any directory source.
func fetchGit(ctx context.Context, src Source, dst string, lim Limits) error {
	remote, err := gitRemote(src.Location, lim)
	if err != nil {
		return err
	}
	what := "git clone " + redact(src.Location)
	gctx, cancel := context.WithTimeout(ctx, lim.GitTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".fetch-git-*")
	if err != nil {
		return fmt.Errorf("create clone directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	work := filepath.Join(tmp, "repo")
	if err := clone(gctx, remote, src.Ref, work); err != nil {
		return transferErr(ctx, gctx, what, lim.GitTimeout, err)
	}
	return fetchDir(ctx, work, dst, lim)
}

// gitRemote returns the URL to clone: local repositories (path or file://)
// are checked against lim.AllowedDirs and cloned through file://, which
// honours --depth.
func gitRemote(loc string, lim Limits) (string, error) {
	p := loc
	if strings.HasPrefix(strings.ToLower(loc), "file://") {
		u, err := url.Parse(loc)
		if err != nil {
			return "", badInput("invalid file URL %s", redact(loc))
		}
		p = u.Path
	} else if !filepath.IsAbs(loc) {
		return loc, nil
	}
	resolved, err := allowLocal(p, lim)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: resolved}).String(), nil
}

// clone checks out ref (default branch if empty) of remote into work: a
// shallow clone for branches and tags, a full clone and checkout for commits.
func clone(ctx context.Context, remote, ref, work string) error {
	if !shaRE.MatchString(ref) {
		args := []string{"clone", "--quiet", "--depth", "1"}
		if ref != "" {
			args = append(args, "--branch", ref)
		}
		err := git(ctx, "", append(args, "--", remote, work)...)
		if err == nil || ref == "" || ctx.Err() != nil {
			return err
		}
		// --branch takes only branch and tag names; ref may be another commit-ish.
		if err := os.RemoveAll(work); err != nil {
			return fmt.Errorf("remove failed clone: %w", err)
		}
	}
	if err := git(ctx, "", "clone", "--quiet", "--no-checkout", "--", remote, work); err != nil {
		return err
	}
	for _, rev := range []string{ref, "origin/" + ref} {
		err := git(ctx, work, "checkout", "--quiet", "--detach", rev+"^{commit}", "--")
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return notFound("git ref %q not found", ref)
}

// git runs one non-interactive git command. A failing command is reported
// as BAD_USER_INPUT with git's own message, credentials scrubbed.
func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL=file:https:ssh", // no ext::, no plain http redirects
		"LC_ALL=C",
	)
	cmd.WaitDelay = gitWaitDelay
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, ok := errors.AsType[*exec.ExitError](err); ok {
		return badInput("%s", scrub(gitMessage(stderr.String())))
	}
	if err != nil {
		return fmt.Errorf("run git %s: %w", args[0], err)
	}
	return nil
}

// gitMessage picks the line of git's stderr that says what went wrong:
// the first fatal or error line, else the last line.
func gitMessage(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	msg := lines[len(lines)-1]
	for _, line := range lines {
		if strings.HasPrefix(line, "fatal: ") || strings.HasPrefix(line, "error: ") {
			msg = line
			break
		}
	}
	const maxLen = 300
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}
