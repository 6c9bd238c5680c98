package fetch

import "time"

// Limits bound what a fetch may consume, so a hostile or broken source cannot
// fill the disk, exhaust inodes or hang an install. Zero fields take the
// defaults documented on each field.
type Limits struct {
	// MaxBytes caps the total unpacked size of all files, counted while
	// streaming (headers are not trusted). Default 100 MiB.
	MaxBytes int64
	// MaxFiles caps the number of files and directories created, including
	// directories implied by entry paths. Default 10000.
	MaxFiles int
	// MaxRatio caps unpacked/packed size of an archive (compression bombs).
	// Archives unpacking to at most 1 MiB are exempt. Default 200.
	MaxRatio int
	// DownloadTimeout bounds a whole URL download. Default 60s.
	DownloadTimeout time.Duration
	// GitTimeout bounds all git commands of one fetch. Default 120s.
	GitTimeout time.Duration
	// MaxDownload caps the packed size of any archive: downloaded, uploaded
	// or local. Default 100 MiB.
	MaxDownload int64
	// AllowedDirs, if non-empty, restricts local sources (directories,
	// archives and git repositories, including file:// URLs) to these
	// directories, after resolving symbolic links.
	AllowedDirs []string
}

const (
	defaultMaxBytes        = 100 << 20
	defaultMaxFiles        = 10000
	defaultMaxRatio        = 200
	defaultDownloadTimeout = 60 * time.Second
	defaultGitTimeout      = 120 * time.Second
	defaultMaxDownload     = 100 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = defaultMaxFiles
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = defaultMaxRatio
	}
	if l.DownloadTimeout <= 0 {
		l.DownloadTimeout = defaultDownloadTimeout
	}
	if l.GitTimeout <= 0 {
		l.GitTimeout = defaultGitTimeout
	}
	if l.MaxDownload <= 0 {
		l.MaxDownload = defaultMaxDownload
	}
	return l
}
