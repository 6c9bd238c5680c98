package pack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/ent/packfile"
	"github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/packenv"
	"github.com/attune-io/attune/internal/store"
)

// Packs travel through the database: an install stores the version's files
// in pack_files (chunked, keyed by the tree checksum) in the transaction
// that registers it, and a node that must run a version it lacks writes it
// from there into <packs_dir>/<ref>/<checksum>/ and builds its environment
// in place (Prepare). The installing node's copy is just the first one.

// chunkSize is the most of a file one pack_files row holds, so neither a
// store nor a materialization holds more than one chunk of a file in memory.
const chunkSize = 1 << 20

// errNotStored means no pack_files rows hold a version.
var errNotStored = errors.New("not stored in the database")

// versionRE matches a version directory's name: a tree checksum.
var versionRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// envRE matches an environment directory's name, <ref>-<checksum[:12]>,
// with the random suffix of a rebuild beside a broken one.
var envRE = regexp.MustCompile(`^(.+)-[0-9a-f]{12}(-[0-9a-f]{8})?$`)

// versionDir is where version checksum of pack ref lives on this node.
func (s *Service) versionDir(ref, checksum string) string {
	return filepath.Join(s.cfg.PacksDir, ref, checksum)
}

// storeFiles writes the files of version checksum of pack ref, found under
// root, into pack_files through c (the registration's transaction). files
// lists them, as treeChecksum saw them: what an environment build added to
// the directory since (node_modules) is not part of the version. A version
// already stored is not stored again.
func storeFiles(ctx context.Context, c *ent.Client, ref, checksum, root string, files []string) error {
	// The server's own read, whoever installs: pack_files is closed to API reads.
	stored, err := c.PackFile.Query().Where(packfile.Checksum(checksum)).Exist(schema.SystemContext(ctx))
	if err != nil || stored {
		return err
	}
	buf := make([]byte, chunkSize)
	for _, rel := range files {
		if err := storeFile(ctx, c, ref, checksum, root, rel, buf); err != nil {
			return fmt.Errorf("storing %s: %w", rel, err)
		}
	}
	return nil
}

func storeFile(ctx context.Context, c *ent.Client, ref, checksum, root, rel string, buf []byte) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	for chunk := 0; ; chunk++ {
		n, err := io.ReadFull(f, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return err
		}
		if n > 0 || chunk == 0 {
			if cerr := c.PackFile.Create().SetPackRef(ref).SetChecksum(checksum).SetPath(rel).
				SetMode(int(info.Mode().Perm())).SetChunk(chunk).SetData(buf[:n]).Exec(ctx); cerr != nil {
				return cerr
			}
		}
		if err != nil || n < len(buf) {
			return nil
		}
	}
}

// materialize writes the stored version checksum of pack ref into dest,
// through a temp dir and a rename, and checks it against its checksum. It
// returns errNotStored when the database does not hold the version. A dest
// another node made meanwhile (shared packs_dir) is kept.
func (s *Service) materialize(ctx context.Context, ref, checksum, dest string) error {
	ctx = schema.SystemContext(ctx)
	rows, err := s.db.Ent.PackFile.Query().Where(packfile.Checksum(checksum)).
		Order(packfile.ByPath(), packfile.ByChunk()).
		Select(packfile.FieldPath, packfile.FieldMode, packfile.FieldChunk).All(ctx)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return errNotStored
	}
	tmp, err := os.MkdirTemp(tmpRoot(s.cfg), "materialize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var f *os.File
	closeFile := func() error {
		if f == nil {
			return nil
		}
		err := f.Close()
		f = nil
		return err
	}
	defer closeFile()
	for _, r := range rows {
		rel := filepath.FromSlash(r.Path)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("stored file %q is outside the pack", r.Path)
		}
		if r.Chunk == 0 {
			if err := closeFile(); err != nil {
				return err
			}
			p := filepath.Join(tmp, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return err
			}
			if err := f.Chmod(fs.FileMode(r.Mode).Perm()); err != nil {
				return err
			}
		}
		if f == nil {
			return fmt.Errorf("stored file %s misses its first chunk", r.Path)
		}
		data, err := s.db.Ent.PackFile.Query().
			Where(packfile.Checksum(checksum), packfile.Path(r.Path), packfile.Chunk(r.Chunk)).
			Select(packfile.FieldData).Only(ctx)
		if err != nil {
			return fmt.Errorf("reading stored file %s: %w", r.Path, err)
		}
		if _, err := f.Write(data.Data); err != nil {
			return err
		}
	}
	if err := closeFile(); err != nil {
		return err
	}
	got, _, err := treeChecksum(tmp)
	if err != nil {
		return err
	}
	if got != checksum {
		return fmt.Errorf("the stored files have checksum %s, not %s", got, checksum)
	}
	// Readable by the user actions run as, like an installed pack.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if exists(dest) {
			return nil // another node sharing packs_dir was first
		}
		return err
	}
	return nil
}

// Local is a pack version ready on this node.
type Local struct {
	// Dir is the version's directory.
	Dir string
	// EnvPath is its Python virtualenv, or "" when it has none.
	EnvPath string
}

// local is what this node has of pack versions.
type local struct {
	mu      sync.Mutex
	ready   map[string]Local   // "ref/checksum" → prepared version
	flights map[string]*flight // preparations under way
	refs    map[string]*sync.Mutex
	// unused are the stored versions the last sweep found unused.
	unused map[string]bool
}

// flight is one preparation that every caller asking for the same version
// meanwhile waits for.
type flight struct {
	done    chan struct{}
	res     Local
	err     error
	waiters int // callers waiting for it, under local.mu
}

// refLock serializes preparing and sweeping versions of one pack on this
// node: versions with the same requirements share an environment.
func (l *local) refLock(ref string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.refs[ref]
	if m == nil {
		m = &sync.Mutex{}
		l.refs[ref] = m
	}
	return m
}

// Prepare makes version checksum of pack ref ready to run on this node and
// says where it is: found in packs_dir, or written there from the database,
// with its environment built in place by the rules of an install. An empty
// checksum means the pack's current version. Callers asking for a version
// under preparation wait for that one preparation and share its outcome; a
// failure is not remembered, so the next caller tries again.
//
// A pack whose version the database does not hold (installed before packs
// were stored, or made by hand) runs where its row says, if that is here.
func (s *Service) Prepare(ctx context.Context, ref, checksum string) (Local, error) {
	if checksum == "" {
		p, err := s.db.Ent.Pack.Query().Where(entpack.Ref(ref)).Only(ctx)
		if ent.IsNotFound(err) {
			return Local{}, fmt.Errorf("pack %s is not installed", ref)
		}
		if err != nil {
			return Local{}, err
		}
		if p.Checksum == "" {
			return s.rowLocal(p)
		}
		checksum = p.Checksum
	}
	key := ref + "/" + checksum
	s.loc.mu.Lock()
	if l, ok := s.loc.ready[key]; ok && exists(l.Dir) {
		s.loc.mu.Unlock()
		return l, nil
	}
	f := s.loc.flights[key]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.loc.flights[key] = f
		// Not the caller's context: the callers that join it must not
		// fail because the first one was canceled. EnvTimeout bounds it.
		go func() {
			res, err := s.prepare(context.WithoutCancel(ctx), ref, checksum)
			s.loc.mu.Lock()
			delete(s.loc.flights, key)
			if err == nil {
				s.loc.ready[key] = res
			}
			f.res, f.err = res, err
			s.loc.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	s.loc.mu.Unlock()
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return Local{}, context.Cause(ctx)
	}
}

func (s *Service) rowLocal(p *ent.Pack) (Local, error) {
	if p.Path == "" || !exists(p.Path) {
		return Local{}, fmt.Errorf("pack %s has no files on this node", p.Ref)
	}
	return Local{Dir: p.Path, EnvPath: p.EnvPath}, nil
}

func (s *Service) prepare(ctx context.Context, ref, checksum string) (Local, error) {
	lk := s.loc.refLock(ref)
	lk.Lock()
	defer lk.Unlock()
	p, err := s.db.Ent.Pack.Query().Where(entpack.Ref(ref)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return Local{}, err
	}
	dir := s.versionDir(ref, checksum)
	if !exists(dir) {
		err := s.materialize(ctx, ref, checksum, dir)
		switch {
		case errors.Is(err, errNotStored) && p != nil && p.Checksum == checksum:
			return s.rowLocal(p)
		case errors.Is(err, errNotStored):
			return Local{}, fmt.Errorf("version %s of pack %s is not stored in the database (deleted or replaced)", short(checksum), ref)
		case err != nil:
			return Local{}, fmt.Errorf("writing version %s of pack %s from the database: %w", short(checksum), ref, err)
		}
		s.log.Info("pack version written from the database", "pack", ref, "checksum", checksum, "path", dir)
	}
	m, err := manifest.LoadAll(os.DirFS(dir), manifest.Options{MaxFileBytes: s.cfg.MaxManifestBytes})
	if m == nil {
		return Local{}, fmt.Errorf("loading pack %s: %w", ref, err)
	}
	if p != nil && p.Checksum != checksum {
		p = nil // its environment is another version's
	}
	envPath, err := s.localEnv(ctx, m, dir, p)
	if err != nil {
		return Local{}, err
	}
	return Local{Dir: dir, EnvPath: envPath}, nil
}

// localEnv finds or builds the environment of the version in dir, as an
// install does: a Python env under envs_dir keyed by the requirements'
// checksum, reused when it verifies (cur, the pack's row when dir is its
// current version, names the one the install built), node_modules in dir.
func (s *Service) localEnv(ctx context.Context, m *manifest.Pack, dir string, cur *ent.Pack) (string, error) {
	spec := packenv.Spec{
		PackDir: dir, Python: s.cfg.Python, Npm: s.cfg.Npm, Timeout: s.cfg.EnvTimeout,
		Sandbox: s.cfg.Sandbox, TempDir: s.cfg.TempDir,
	}
	switch {
	case needsPython(m):
		sum, err := packenv.Checksum(dir)
		if err != nil {
			return "", err
		}
		want := filepath.Join(s.cfg.EnvsDir, m.Ref+"-"+sum[:12])
		var candidates []string
		if cur != nil && cur.EnvChecksum == sum && cur.EnvPath != "" && s.within(cur.EnvPath, s.cfg.EnvsDir) {
			candidates = append(candidates, cur.EnvPath)
		}
		for _, c := range append(candidates, want) {
			if exists(c) && spec.Verify(ctx, c) == nil {
				return c, nil
			}
		}
		spec.EnvDir = want
		s.log.Info("building pack environment", "pack", m.Ref, "path", want)
		st, err := packenv.BuildPython(ctx, spec)
		if err != nil {
			return "", envError(ctx, err)
		}
		return st.Path, nil
	case m.HasPackageJSON:
		if exists(filepath.Join(dir, "node_modules")) {
			return "", nil
		}
		if _, err := packenv.BuildNode(ctx, spec); err != nil {
			return "", envError(ctx, err)
		}
	}
	return "", nil
}

func short(checksum string) string {
	if len(checksum) > 12 {
		return checksum[:12]
	}
	return checksum
}

// SweepVersions removes the versions no pack and no active execution points
// at: their rows in pack_files, and their directories and environments on
// this node. Refs being installed or deleted are left for the next sweep.
func (s *Service) SweepVersions(ctx context.Context) error {
	ctx = schema.SystemContext(ctx)
	// What is stored is read before what is wanted: a version an install
	// stores meanwhile (with its row, in one transaction) is not seen.
	var stored []struct {
		PackRef  string `json:"pack_ref"`
		Checksum string `json:"checksum"`
	}
	if err := s.db.Ent.PackFile.Query().GroupBy(packfile.FieldPackRef, packfile.FieldChecksum).Scan(ctx, &stored); err != nil {
		return err
	}
	keep, keepPath, err := s.referenced(ctx, "")
	if err != nil {
		return err
	}
	// A version leaves the database when two sweeps in a row found it
	// unused: an execution requested just before an upgrade, whose row
	// was not committed yet at the first, is seen by the second.
	s.loc.mu.Lock()
	unused := map[string]bool{}
	var doomed []string
	for _, v := range stored {
		key := v.PackRef + "/" + v.Checksum
		if keep[key] {
			continue
		}
		unused[key] = true
		if s.loc.unused[key] {
			doomed = append(doomed, key)
		}
	}
	s.loc.unused = unused
	s.loc.mu.Unlock()
	for _, key := range doomed {
		ref, sum, _ := strings.Cut(key, "/")
		v := struct{ PackRef, Checksum string }{ref, sum}
		n, err := s.db.Ent.PackFile.Delete().
			Where(packfile.PackRef(v.PackRef), packfile.Checksum(v.Checksum)).Exec(ctx)
		if err != nil {
			return err
		}
		s.log.Info("removed an unused pack version from the database", "pack", v.PackRef, "checksum", v.Checksum, "rows", n)
	}

	// This node: version directories by ref, and environments by the
	// versions that stay.
	gone := map[string][]string{} // ref → paths to remove
	keepEnv := map[string]bool{}
	refs, err := os.ReadDir(s.cfg.PacksDir)
	if err != nil {
		return err
	}
	for _, r := range refs {
		refDir := filepath.Join(s.cfg.PacksDir, r.Name())
		if !r.IsDir() || r.Name() == ".tmp" || keepPath[refDir] {
			continue // a pack installed before versions had directories
		}
		versions, err := os.ReadDir(refDir)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if !versionRE.MatchString(v.Name()) {
				continue
			}
			dir := filepath.Join(refDir, v.Name())
			if keep[r.Name()+"/"+v.Name()] || keepPath[dir] {
				if sum, err := packenv.Checksum(dir); err == nil {
					keepEnv[filepath.Join(s.cfg.EnvsDir, r.Name()+"-"+sum[:12])] = true
				}
				continue
			}
			gone[r.Name()] = append(gone[r.Name()], dir)
		}
	}
	envs, err := os.ReadDir(s.cfg.EnvsDir)
	if err != nil {
		return err
	}
	for _, e := range envs {
		m := envRE.FindStringSubmatch(e.Name())
		p := filepath.Join(s.cfg.EnvsDir, e.Name())
		if m == nil || keepEnv[p] || keepPath[p] {
			continue
		}
		gone[m[1]] = append(gone[m[1]], p)
	}
	for ref, paths := range gone {
		s.removeVersions(ctx, ref, paths, keep)
	}
	return nil
}

// referenced lists the versions ("ref/checksum") a pack row or an active
// execution points at, of pack ref or of all packs (""), and the
// directories pack rows name (the installing node's).
func (s *Service) referenced(ctx context.Context, ref string) (keep, keepPath map[string]bool, err error) {
	pq := s.db.Ent.Pack.Query()
	eq := s.db.Ent.Execution.Query().Where(execution.StatusIn(activeStatuses...), execution.PackChecksumNEQ(""))
	if ref != "" {
		pq.Where(entpack.Ref(ref))
		eq.Where(execution.PackRef(ref))
	}
	packs, err := pq.All(ctx)
	if err != nil {
		return nil, nil, err
	}
	keep, keepPath = map[string]bool{}, map[string]bool{}
	for _, p := range packs {
		keep[p.Ref+"/"+p.Checksum] = true
		keepPath[p.Path], keepPath[p.EnvPath] = true, true
	}
	var active []struct {
		PackRef      string `json:"pack_ref"`
		PackChecksum string `json:"pack_checksum"`
	}
	if err := eq.GroupBy(execution.FieldPackRef, execution.FieldPackChecksum).Scan(ctx, &active); err != nil {
		return nil, nil, err
	}
	for _, a := range active {
		keep[a.PackRef+"/"+a.PackChecksum] = true
	}
	return keep, keepPath, nil
}

// removeVersions removes paths of pack ref unless an install or delete of
// it holds its lock, or a version of it was installed or requested since
// keep was read (the next sweep decides then), and forgets what this node
// had prepared of it.
func (s *Service) removeVersions(ctx context.Context, ref string, paths []string, keep map[string]bool) {
	release, ok, err := s.locks.TryLock(ctx, "pack:"+ref)
	if err != nil || !ok {
		return
	}
	defer release()
	lk := s.loc.refLock(ref)
	lk.Lock()
	defer lk.Unlock()
	now, _, err := s.referenced(ctx, ref)
	if err != nil {
		return
	}
	for v := range now {
		if !keep[v] {
			return
		}
	}
	s.forget(ref)
	for _, p := range paths {
		s.log.Info("removing an unused pack version from this node", "pack", ref, "path", p)
		s.removeAll(p)
	}
	// The ref's directory goes with its last version.
	_ = os.Remove(filepath.Join(s.cfg.PacksDir, ref))
}

// forget drops what this node remembers as prepared of pack ref, so the
// next run checks again.
func (s *Service) forget(ref string) {
	s.loc.mu.Lock()
	defer s.loc.mu.Unlock()
	for key := range s.loc.ready {
		if len(key) > len(ref) && key[:len(ref)+1] == ref+"/" {
			delete(s.loc.ready, key)
		}
	}
}

// RunSweeps runs SweepVersions every interval until ctx ends, so each node
// removes the versions a delete or an upgrade left unused.
func (s *Service) RunSweeps(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.SweepVersions(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweeping pack versions", "error", err)
			}
		}
	}
}

// storeMissing stores the files of packs installed before packs were
// stored in the database, from this node's copy when it is intact, so
// other nodes can run them.
func (s *Service) storeMissing(ctx context.Context) error {
	packs, err := s.db.Ent.Pack.Query().Where(entpack.ChecksumNEQ("")).All(ctx)
	if err != nil {
		return err
	}
	for _, p := range packs {
		stored, err := s.db.Ent.PackFile.Query().Where(packfile.Checksum(p.Checksum)).Exist(ctx)
		if err != nil {
			return err
		}
		if stored || p.Path == "" || !exists(p.Path) {
			continue
		}
		sum, files, err := treeChecksum(p.Path)
		if err != nil || sum != p.Checksum {
			continue // changed since (node_modules): it runs where it is
		}
		if err := s.db.InTx(ctx, func(tx *store.Tx) error {
			return storeFiles(ctx, tx.Ent, p.Ref, p.Checksum, p.Path, files)
		}); err != nil {
			return fmt.Errorf("storing the files of pack %s: %w", p.Ref, err)
		}
		s.log.Info("stored the files of a pack installed before packs were stored", "pack", p.Ref)
	}
	return nil
}

// PrepareDirs is Prepare for the execution and sensor engines.
func (s *Service) PrepareDirs(ctx context.Context, ref, checksum string) (dir, envPath string, err error) {
	l, err := s.Prepare(ctx, ref, checksum)
	return l.Dir, l.EnvPath, err
}
