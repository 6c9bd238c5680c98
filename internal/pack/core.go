package pack

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/attune-io/attune/ent"
	entpack "github.com/attune-io/attune/ent/pack"
)

// coreFS is the built-in core pack, installed at first start and upgraded
// when a new server ships a different one.
//
//go:embed all:core
var coreFS embed.FS

// EnsureCore installs the built-in core pack, or upgrades it when its files
// differ from the installed copy. It goes through the normal install path.
func (s *Service) EnsureCore(ctx context.Context) (*ent.Pack, error) {
	dir, err := os.MkdirTemp(tmpRoot(s.cfg), "core-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sub, err := fs.Sub(coreFS, "core")
	if err != nil {
		return nil, err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return nil, fmt.Errorf("writing core pack: %w", err)
	}
	scripts, err := filepath.Glob(filepath.Join(dir, "actions", "*.sh"))
	if err != nil {
		return nil, err
	}
	for _, script := range scripts {
		if err := os.Chmod(script, 0o755); err != nil {
			return nil, err
		}
	}
	sum, _, err := treeChecksum(dir)
	if err != nil {
		return nil, err
	}
	cur, err := s.db.Ent.Pack.Query().Where(entpack.Ref("core")).Only(ctx)
	if err == nil && cur.Checksum == sum {
		return cur, nil
	}
	res, err := s.Install(ctx, Request{Source: dir, Force: true, System: true, DisplaySource: "builtin:core"})
	if err != nil {
		return nil, fmt.Errorf("installing core pack: %w", err)
	}
	return res.Pack, nil
}
