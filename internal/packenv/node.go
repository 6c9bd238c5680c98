package packenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// BuildNode runs `npm install` in the pack directory when it has a
// package.json, so node_modules sits next to the pack's code where node's
// module resolution finds it. A pack without package.json gets KindNone. On
// failure a node_modules created by this build is removed and the error ends
// with npm's last output lines.
func BuildNode(ctx context.Context, s Spec) (Status, error) {
	s, err := s.withDefaults()
	if err != nil {
		return Status{}, err
	}
	_, err = os.Stat(filepath.Join(s.PackDir, "package.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.status(KindNone, "")
	case err != nil:
		return Status{}, fmt.Errorf("checking package.json: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	modules := filepath.Join(s.PackDir, "node_modules")
	_, statErr := os.Stat(modules)
	existed := !errors.Is(statErr, fs.ErrNotExist)
	// npm writes node_modules and package-lock.json into the pack: the
	// pack is lent to the build user and taken back once built.
	err = s.handOver(s.PackDir)
	if err == nil {
		err = s.run(ctx, s.PackDir, []string{s.PackDir}, s.Npm, "install", "--no-audit", "--no-fund")
		if backErr := s.takeBack(s.PackDir); err == nil {
			err = backErr
		}
	}
	if err != nil {
		if !existed {
			_ = os.RemoveAll(modules)
		}
		return Status{}, fmt.Errorf("installing node modules in %s: %w", s.PackDir, err)
	}
	// Checksummed after the install, which may have written package-lock.json.
	return s.status(KindNode, modules)
}
