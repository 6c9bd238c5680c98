package graph_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/fetch/fetchtest"
	"github.com/attune-io/attune/internal/gqltest"
)

const installMutation = `mutation($src:String!,$force:Boolean){ installPack(input:{source:$src, force:$force}){
	pack{ ref version path source installedAt environment{ status path error }
		actions{ totalCount edges{ node{ ref runnerType entryPoint } } } }
	install{ status steps } } }`

type installed struct {
	InstallPack struct {
		Pack struct {
			Ref, Version, Path, Source string
			Environment                struct{ Status, Path, Error string }
			Actions                    struct {
				TotalCount int
				Edges      []struct {
					Node struct{ Ref, RunnerType, EntryPoint string }
				}
			}
		}
		Install struct{ Status string }
	}
}

func examplePack(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../examples/packs/python_example")
	require.NoError(t, err)
	return p
}

func TestInstallPackThroughAPI(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		var got installed
		b.c.Must(t, installMutation, map[string]any{"src": examplePack(t)}, &got)
		p := got.InstallPack.Pack
		require.Equal(t, "python_example", p.Ref)
		require.Equal(t, "1.0.0", p.Version)
		require.Equal(t, "READY", p.Environment.Status)
		require.DirExists(t, p.Environment.Path)
		require.Equal(t, 1, p.Actions.TotalCount)
		require.Equal(t, "python_example.greet", p.Actions.Edges[0].Node.Ref)
		require.Equal(t, "PYTHON", p.Actions.Edges[0].Node.RunnerType)
		require.Equal(t, "SUCCEEDED", got.InstallPack.Install.Status)

		e := b.c.Fail(t, installMutation, map[string]any{"src": examplePack(t)})
		requireCode(t, e, "CONFLICT")

		// An environment removed behind the server's back is not an error
		// any more: a node rebuilds a version it lacks when it needs it
		// (packs travel through the database, docs/operations.md).
		require.NoError(t, os.RemoveAll(p.Environment.Path))
		var env struct {
			Pack struct {
				Environment struct{ Status, Error string }
			}
		}
		b.c.Must(t, `{ pack(ref:"python_example"){ environment{ status error } } }`, nil, &env)
		require.Equal(t, "READY", env.Pack.Environment.Status)
		b.c.Must(t, installMutation, map[string]any{"src": examplePack(t), "force": true}, &got)

		var del struct{ DeletePack struct{ DeletedRef string } }
		b.c.Must(t, `mutation{ deletePack(input:{ref:"python_example"}){ deletedRef canceledExecutions } }`, nil, &del)
		require.Equal(t, "python_example", del.DeletePack.DeletedRef)
		require.NoDirExists(t, p.Path)
		require.NoDirExists(t, p.Environment.Path)
		e = b.c.Fail(t, `{ pack(ref:"python_example"){ id } }`, nil)
		requireCode(t, e, "NOT_FOUND")
	})
}

func TestInstallInvalidPackListsProblems(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pack.yaml"), []byte("ref: x\nversion: nope\n"), 0o644))
	e := b.c.Fail(t, installMutation, map[string]any{"src": dir})
	requireCode(t, e, "BAD_USER_INPUT")
	require.Equal(t, "validate", e.Extensions["step"])
	probs, ok := e.Extensions["problems"].([]any)
	require.True(t, ok, "%v", e.Extensions)
	require.Len(t, probs, 2, "bad ref and bad version: %v", probs)
	e = b.c.Fail(t, installMutation, map[string]any{"src": "ftp://example.com/x.tgz"})
	requireCode(t, e, "BAD_USER_INPUT")
}

// upload posts an archive as a GraphQL multipart request, as
// apollo-upload-client does.
func upload(t *testing.T, c *gqltest.Client, name string, body []byte) gqltest.Response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($f:Upload!){ uploadPack(file:$f){ pack{ ref source } install{ status } } }`,
		"variables": map[string]any{"f": nil},
	})
	require.NoError(t, w.WriteField("operations", string(ops)))
	require.NoError(t, w.WriteField("map", `{"0":["variables.f"]}`))
	fw, err := w.CreateFormFile("0", name)
	require.NoError(t, err)
	_, _ = fw.Write(body)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, c.URL, &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.Send(t, req)
}

func TestUploadPack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		r := upload(t, b.c, "python_example.tar.gz", fetchtest.TarGz(t, examplePack(t)))
		require.Empty(t, r.Errors)
		var got struct {
			UploadPack struct {
				Pack    struct{ Ref, Source string }
				Install struct{ Status string }
			}
		}
		require.NoError(t, json.Unmarshal(r.Data, &got))
		require.Equal(t, "python_example", got.UploadPack.Pack.Ref)
		require.Equal(t, "upload:python_example.tar.gz", got.UploadPack.Pack.Source)
	})
}

// TestMaliciousUploadsAreRefused sends hostile archives through the API:
// each is BAD_USER_INPUT, and nothing is installed or left on disk.
func TestMaliciousUploadsAreRefused(t *testing.T) {
	t.Parallel()
	cases := map[string][]tar.Header{
		"traversal": {{Name: "../../escape.txt", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"absolute":  {{Name: "/etc/attune-evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"symlink":   {{Name: "p/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777}},
		"hardlink":  {{Name: "p/hard", Typeflag: tar.TypeLink, Linkname: "p/pack.yaml", Mode: 0o644}},
		"device":    {{Name: "p/dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o644}},
	}
	b := setup(t, "sqlite")
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: "p/pack.yaml", Typeflag: tar.TypeReg, Size: 26, Mode: 0o644}))
			_, _ = tw.Write([]byte("ref: evil\nversion: 1.0.0\n\n"))
			for _, h := range hdrs {
				require.NoError(t, tw.WriteHeader(&h))
				if h.Size > 0 {
					_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
				}
			}
			require.NoError(t, tw.Close())
			require.NoError(t, zw.Close())
			r := upload(t, b.c, name+".tar.gz", buf.Bytes())
			require.NotEmpty(t, r.Errors)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), r.Errors[0].Message)
		})
	}
	t.Cleanup(func() {
		var packs struct{ Packs struct{ TotalCount int } }
		b.c.Must(t, `{ packs{ totalCount } }`, nil, &packs)
		require.Zero(t, packs.Packs.TotalCount)
		tmp, _ := os.ReadDir(filepath.Join(b.dir, "packs", ".tmp"))
		require.Empty(t, tmp)
		require.NoFileExists(t, filepath.Join(b.dir, "escape.txt"))
	})
	// A zip bomb: a small archive that claims to unpack far past the ratio.
	bomb := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bomb, "pack.yaml"), []byte("ref: bomb\nversion: 1.0.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bomb, "zeros"), make([]byte, 50<<20), 0o644))
	r := upload(t, b.c, "bomb.zip", fetchtest.Zip(t, bomb))
	require.NotEmpty(t, r.Errors)
	require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), r.Errors[0].Message)
}

func TestInstallProgressSubscription(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		var started struct{ StartPackInstall struct{ ID string } }
		b.c.Must(t, `mutation($src:String!){ startPackInstall(input:{source:$src}){ id } }`,
			map[string]any{"src": examplePack(t)}, &started)
		sub := b.c.Subscribe(t, t.Context(), `subscription($id:ID!){ packInstallProgress(id:$id){ status step packRef } }`,
			map[string]any{"id": started.StartPackInstall.ID}, nil)
		var statuses []string
		for {
			r, err := sub.Next(t.Context())
			if err == gqltest.ErrComplete {
				break
			}
			require.NoError(t, err)
			require.Empty(t, r.Errors)
			var ev struct {
				PackInstallProgress struct{ Status, Step, PackRef string }
			}
			require.NoError(t, json.Unmarshal(r.Data, &ev))
			statuses = append(statuses, ev.PackInstallProgress.Status)
			if ev.PackInstallProgress.Status == "SUCCEEDED" {
				require.Equal(t, "python_example", ev.PackInstallProgress.PackRef)
			}
		}
		require.Equal(t, "SUCCEEDED", statuses[len(statuses)-1], "%v", statuses)
	})
}
