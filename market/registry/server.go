package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/wasm"
	"github.com/plykit/ply/wasm/abi"
)

// Config configures a registry. The zero value but Dir is the defaults.
type Config struct {
	// Dir holds the database (registry.db) and the artifacts
	// (artifacts/sha256/HEX.wasm). Required.
	Dir string
	// MaxArtifact is the largest module accepted, in bytes. Default 16 MiB.
	MaxArtifact int64
	// MaxReadme is the largest readme accepted, in bytes. Default 64 KiB.
	MaxReadme int64
	// ReviewEvery is the rate limit on reviews: an account may post one per
	// ReviewEvery. Default 10s.
	ReviewEvery time.Duration
	// CacheDir is where uploaded modules' compilations are cached, keyed
	// by their hashes (see wasm.Config.CacheDir). Default Dir/wasm-cache.
	CacheDir string
	// Logger logs refused uploads and server errors. Default: discard.
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Server is a plugin registry: an http.Handler serving the JSON API under
// /api/v1/ and the HTML pages, on a SQLite database and a directory of
// artifacts named by their hashes. It is safe for concurrent use.
type Server struct {
	cfg   Config
	db    *store
	files lock.Cache
	mux   *http.ServeMux
}

// Open opens (creating it if needed) the registry in cfg.Dir.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("registry: Config.Dir is required: the directory of the database and the artifacts")
	}
	cfg.MaxArtifact = cmp.Or(cfg.MaxArtifact, 16<<20)
	cfg.MaxReadme = cmp.Or(cfg.MaxReadme, 64<<10)
	cfg.ReviewEvery = cmp.Or(cfg.ReviewEvery, 10*time.Second)
	cfg.CacheDir = cmp.Or(cfg.CacheDir, filepath.Join(cfg.Dir, "wasm-cache"))
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	db, err := openStore(ctx, filepath.Join(cfg.Dir, "registry.db"))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, files: lock.Cache{Dir: filepath.Join(cfg.Dir, "artifacts")}, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Close closes the database.
func (s *Server) Close() error { return s.db.db.Close() }

// ServeHTTP serves the API and the pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddPublisher registers a publisher with its minisign public key
// ("RW…", as in a minisign .pub file's second line) and returns its
// token, which the registry keeps only a hash of. Errors match
// [ErrExists] for a taken name and [ErrBadRequest] for a bad key or name.
func (s *Server) AddPublisher(ctx context.Context, name, key string) (string, error) {
	if err := lock.CheckKey(key); err != nil {
		return "", fmt.Errorf("publisher %s: %w: %w", name, err, ErrBadRequest)
	}
	return s.addAccount(ctx, name, key)
}

// AddUser registers a user who may review plugins and returns its token.
func (s *Server) AddUser(ctx context.Context, name string) (string, error) {
	return s.addAccount(ctx, name, "")
}

func (s *Server) addAccount(ctx context.Context, name, key string) (string, error) {
	if !lock.ValidName(name) {
		return "", fmt.Errorf("account name %q: want 1 to 64 of a-z, 0-9, '.', '_' and '-': %w", name, ErrBadRequest)
	}
	return s.db.addAccount(ctx, name, key)
}

func (s *Server) routes() {
	s.mux.HandleFunc("POST /api/v1/publish", s.handlePublish)
	s.mux.HandleFunc("POST /api/v1/plugins/{name}/{version}/yank", s.handleYank)
	s.mux.HandleFunc("GET /api/v1/search", s.handleSearch)
	s.mux.HandleFunc("GET /api/v1/plugins/{name}", s.handlePlugin)
	s.mux.HandleFunc("POST /api/v1/plugins/{name}/reviews", s.handleReview)
	s.mux.HandleFunc("GET /api/v1/artifacts/{sha256}", s.handleArtifact)
	s.pageRoutes()
}

// status maps an error to its HTTP status.
func status(err error) int {
	var re *RateError
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrExists):
		return http.StatusConflict
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &re):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// fail answers err as JSON; a server error is logged and not detailed.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.cfg.Logger.ErrorContext(r.Context(), "registry", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if re, ok := errors.AsType[*RateError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(re.Wait.Seconds())+1))
		msg = fmt.Sprintf("one review per %s at most: try again in %s", s.cfg.ReviewEvery, re.Wait.Round(time.Second))
	}
	writeJSON(w, code, market.ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// account returns the account of the request's bearer token.
func (s *Server) account(r *http.Request) (account, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return account{}, ErrUnauthorized
	}
	return s.db.byToken(r.Context(), token)
}

// handlePublish takes a multipart upload: "artifact" (the module),
// "signature" (minisign's text) and an optional "readme". The name and
// version come from the module's manifest, never from the request, and
// the artifact is stored under its hash: nothing of the upload names a
// path.
func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	by, err := s.account(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if by.key == "" {
		s.fail(w, r, fmt.Errorf("account %s has no signing key: only publishers publish: %w", by.name, ErrForbidden))
		return
	}
	res, err := s.publish(r, by)
	if err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "upload refused", "publisher", by.name, "err", err)
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// upload is a publish request's parts.
type upload struct {
	artifact, signature, readme []byte
}

func (s *Server) readUpload(r *http.Request) (*upload, error) {
	const slack = 64 << 10 // headers and boundaries
	r.Body = http.MaxBytesReader(nil, r.Body, s.cfg.MaxArtifact+s.cfg.MaxReadme+slack)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, fmt.Errorf("send multipart/form-data with the parts artifact, signature and readme: %w", ErrBadRequest)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	u := &upload{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tooLarge(err, "the upload")
		}
		var dst *[]byte
		var limit int64
		switch part.FormName() {
		case "artifact":
			dst, limit = &u.artifact, s.cfg.MaxArtifact
		case "signature":
			dst, limit = &u.signature, 4<<10
		case "readme":
			dst, limit = &u.readme, s.cfg.MaxReadme
		default:
			return nil, fmt.Errorf("unknown part %q: send artifact, signature and readme: %w", part.FormName(), ErrBadRequest)
		}
		if *dst != nil {
			return nil, fmt.Errorf("part %q sent twice: %w", part.FormName(), ErrBadRequest)
		}
		b, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return nil, tooLarge(err, "the upload")
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("%s: over the limit of %d bytes: %w", part.FormName(), limit, ErrTooLarge)
		}
		*dst = b
	}
	if len(u.artifact) == 0 || len(u.signature) == 0 {
		return nil, fmt.Errorf("the parts artifact and signature are required: %w", ErrBadRequest)
	}
	return u, nil
}

func tooLarge(err error, what string) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Errorf("%s is over the limit: %w", what, ErrTooLarge)
	}
	return fmt.Errorf("%s: %v: %w", what, err, ErrBadRequest) //nolint:errorlint // one %w: the sentinel
}

func (s *Server) publish(r *http.Request, by account) (*market.Published, error) {
	u, err := s.readUpload(r)
	if err != nil {
		return nil, err
	}
	// The signature first: it costs microseconds, the module's compilation
	// seconds, and no unsigned upload gets that far.
	name, version, err := lock.Signed(string(u.signature))
	if err == nil {
		if err = lock.CheckSignature(by.key, string(u.signature), name, version, u.artifact); err != nil {
			err = fmt.Errorf("plugin %s@%s: %w", name, version, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w (sign the module with the key registered for %s): %w", err, by.name, ErrForbidden)
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute) // a cold compilation of a Go module on a loaded machine takes seconds
	defer cancel()
	m, caps, err := wasm.Inspect(ctx, "the uploaded module", u.artifact, s.cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrBadRequest)
	}
	if m.Name != name || m.Version != version {
		return nil, fmt.Errorf("the module is %s@%s, but its signature says %s@%s: sign it again: %w", m.Name, m.Version, name, version, ErrForbidden)
	}
	if !lock.ValidName(m.Name) {
		return nil, fmt.Errorf("the module's name %q: a registry takes 1 to 64 of a-z, 0-9, '.', '_' and '-': %w", m.Name, ErrBadRequest)
	}
	if err := checkRequires(m); err != nil {
		return nil, err
	}
	sum, err := s.files.Put(u.artifact)
	if err != nil {
		return nil, err
	}
	nv := newVersion{name: m.Name, description: m.Description, readme: string(u.readme), v: market.Version{
		Version: m.Version, ABI: m.ABI, SHA256: sum, Size: int64(len(u.artifact)), Signature: string(u.signature),
		Capabilities: caps, Manifest: m, Published: s.cfg.Now().UTC(),
	}}
	if err := s.db.publish(r.Context(), by, nv); err != nil {
		return nil, err
	}
	return &market.Published{Name: m.Name, Version: m.Version, SHA256: sum}, nil
}

// checkRequires checks the manifest's dependencies: names, and
// constraints a client can parse.
func checkRequires(m *abi.Manifest) error {
	for _, d := range m.Requires {
		if !lock.ValidName(d.Name) {
			return fmt.Errorf("plugin %s requires %q, which is not a plugin name: %w", m.Name, d.Name, ErrBadRequest)
		}
		if d.Constraint == "" {
			continue
		}
		if _, err := semver.NewConstraint(d.Constraint); err != nil {
			return fmt.Errorf("plugin %s requires %s %q: not a semver constraint: %w", m.Name, d.Name, d.Constraint, ErrBadRequest)
		}
	}
	return nil
}

func (s *Server) handleYank(w http.ResponseWriter, r *http.Request) {
	by, err := s.account(r)
	if err == nil {
		err = s.db.yank(r.Context(), by, r.PathValue("name"), r.PathValue("version"))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxResults bounds a search's answer.
const maxResults = 100

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	limit := maxResults
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < maxResults {
		limit = l
	}
	res, err := s.db.search(r.Context(), r.URL.Query().Get("q"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handlePlugin(w http.ResponseWriter, r *http.Request) {
	p, err := s.db.plugin(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// Review posts a review of plugin name by the account of token: the
// same path as the API's and the page's. Errors match [ErrUnauthorized],
// [ErrNotFound], [ErrBadRequest], or are a [*RateError].
func (s *Server) Review(ctx context.Context, token, name string, rv market.Review) error {
	by, err := s.db.byToken(ctx, token)
	if err != nil {
		return err
	}
	if rv.Rating < 1 || rv.Rating > 5 {
		return fmt.Errorf("rating %d: rate 1 to 5: %w", rv.Rating, ErrBadRequest)
	}
	if len(rv.Text) > 4<<10 {
		return fmt.Errorf("a review of %d bytes: keep it under 4 KiB: %w", len(rv.Text), ErrTooLarge)
	}
	if rv.Version == "" {
		p, err := s.db.plugin(ctx, name)
		if err != nil {
			return err
		}
		rv.Version = p.Latest
	}
	return s.db.review(ctx, by, name, rv, s.cfg.Now(), s.cfg.ReviewEvery)
}

func (s *Server) handleReview(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var rv market.Review
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rv); err != nil {
		s.fail(w, r, fmt.Errorf("review: %v: %w", err, ErrBadRequest)) //nolint:errorlint // one %w: the sentinel
		return
	}
	if err := s.Review(r.Context(), token, r.PathValue("name"), rv); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleArtifact serves an artifact by its hash: the path segment must be
// a sha256 in hex, so it cannot name another file.
func (s *Server) handleArtifact(w http.ResponseWriter, r *http.Request) {
	sum := r.PathValue("sha256")
	if !lock.ValidHash(sum) {
		s.fail(w, r, fmt.Errorf("artifact %q: want a sha256 in lower-case hex: %w", sum, ErrBadRequest))
		return
	}
	f, err := os.Open(s.files.Path(sum)) //nolint:gosec // G703: sum is checked hex above, so the path stays in the artifacts directory
	if errors.Is(err, os.ErrNotExist) {
		s.fail(w, r, fmt.Errorf("artifact %s: %w", sum, ErrNotFound))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer func() { _ = f.Close() }() // read-only
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// sortVersions sorts versions newest first (semver order).
func sortVersions(vs []market.Version) {
	slices.SortFunc(vs, func(a, b market.Version) int {
		va, ea := semver.StrictNewVersion(a.Version)
		vb, eb := semver.StrictNewVersion(b.Version)
		if ea != nil || eb != nil {
			return cmp.Compare(b.Version, a.Version)
		}
		return vb.Compare(va)
	})
}
