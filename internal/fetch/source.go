package fetch

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Kind says how a [Source] is fetched.
type Kind string

// The source kinds [Parse] recognises.
const (
	// KindDir is a local directory, copied file by file.
	KindDir Kind = "dir"
	// KindArchive is a local .tar.gz, .tgz or .zip file.
	KindArchive Kind = "archive"
	// KindURL is an http(s) URL of a .tar.gz, .tgz or .zip archive.
	KindURL Kind = "url"
	// KindGit is a git repository: https or file:// URL, git@host:path, or
	// a local directory containing .git.
	KindGit Kind = "git"
)

// Archive formats accepted by [Extract].
const (
	FormatTarGz = "tar.gz"
	FormatZip   = "zip"
)

// Source is a classified pack source, so the install service can record what
// was installed from where before fetching it.
type Source struct {
	Kind Kind
	// Location is an absolute local path, a URL or a git@host:path address.
	// It may contain credentials; show it only through error messages of
	// this package, which redact them.
	Location string
	// Ref is the git branch, tag or commit to check out (the "#ref" suffix);
	// empty means the remote's default branch.
	Ref string
}

var refRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+@-]{0,254}$`)

// Parse classifies a user-supplied source string:
//   - http(s) URL whose path ends in .tar.gz, .tgz or .zip → [KindURL];
//   - other https URL, file:// URL or git@host:path, with optional #ref → [KindGit];
//   - absolute local path: a directory containing .git (optionally
//     path#ref) → [KindGit], another directory → [KindDir], a .tar.gz,
//     .tgz or .zip file → [KindArchive].
//
// Local paths are looked up on disk. Returns NOT_FOUND for a local path that
// does not exist and BAD_USER_INPUT for anything else it cannot classify.
func Parse(source string) (Source, error) {
	s := strings.TrimSpace(source)
	lower := strings.ToLower(s)
	switch {
	case s == "":
		return Source{}, badInput("source is empty")
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return parseHTTP(s)
	case strings.HasPrefix(lower, "file://"):
		return parseFileURL(s)
	case strings.HasPrefix(s, "git@"):
		loc, ref, _ := strings.Cut(s, "#")
		return gitSource(loc, ref)
	case strings.Contains(s, "://"):
		return Source{}, badInput("unsupported source %s: use an https or file:// URL, git@host:path or an absolute local path", redact(s))
	default:
		return parseLocal(s)
	}
}

// FormatOf returns [FormatTarGz] or [FormatZip] from a file name or URL path
// suffix, or "" if the name is not a supported archive.
func FormatOf(name string) string {
	name = strings.ToLower(name)
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return FormatTarGz
	case strings.HasSuffix(name, ".zip"):
		return FormatZip
	default:
		return ""
	}
}

func parseHTTP(s string) (Source, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Source{}, badInput("invalid URL %s", redact(s))
	}
	ref := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	if FormatOf(u.Path) != "" {
		return Source{Kind: KindURL, Location: u.String()}, nil
	}
	if u.Scheme != "https" {
		return Source{}, badInput("%s is neither a .tar.gz, .tgz or .zip URL nor an https git repository", redact(s))
	}
	return gitSource(u.String(), ref)
}

func parseFileURL(s string) (Source, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return Source{}, badInput("invalid file URL %s: want file:///absolute/path", redact(s))
	}
	ref := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	return gitSource(u.String(), ref)
}

func parseLocal(s string) (Source, error) {
	if !filepath.IsAbs(s) {
		return Source{}, badInput("local source %q must be an absolute path", s)
	}
	p := filepath.Clean(s)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if i := strings.LastIndexByte(s, '#'); i > 0 && isGitRepo(s[:i]) {
			return gitSource(filepath.Clean(s[:i]), s[i+1:])
		}
		return Source{}, notFound("source path %s does not exist", s)
	}
	if err != nil {
		return Source{}, badInput("cannot read source path %s: %v", s, err)
	}
	switch {
	case fi.IsDir() && isGitRepo(p):
		return Source{Kind: KindGit, Location: p}, nil
	case fi.IsDir():
		return Source{Kind: KindDir, Location: p}, nil
	case fi.Mode().IsRegular() && FormatOf(p) != "":
		return Source{Kind: KindArchive, Location: p}, nil
	default:
		return Source{}, badInput("%s is neither a directory nor a .tar.gz, .tgz or .zip file", s)
	}
}

func isGitRepo(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".git"))
	return err == nil
}

func gitSource(loc, ref string) (Source, error) {
	if ref != "" && (!refRE.MatchString(ref) || strings.Contains(ref, "..")) {
		return Source{}, badInput("invalid git ref %q", ref)
	}
	return Source{Kind: KindGit, Location: loc, Ref: ref}, nil
}
