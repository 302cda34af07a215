package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite": pure Go, no cgo

	"github.com/plykit/ply/market"
)

const schema = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS accounts (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	token_hash  TEXT NOT NULL UNIQUE,
	key         TEXT NOT NULL DEFAULT '',  -- a publisher's minisign public key; empty for a reviewer
	last_review INTEGER NOT NULL DEFAULT 0 -- unix nanoseconds of the account's last review, for the rate limit
);
CREATE TABLE IF NOT EXISTS plugins (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	owner        INTEGER NOT NULL REFERENCES accounts(id),
	description  TEXT NOT NULL DEFAULT '',
	readme       TEXT NOT NULL DEFAULT '',
	latest       TEXT NOT NULL DEFAULT '',
	rating_sum   INTEGER NOT NULL DEFAULT 0,
	rating_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
	plugin       INTEGER NOT NULL REFERENCES plugins(id),
	version      TEXT NOT NULL,
	abi          INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	size         INTEGER NOT NULL,
	signature    TEXT NOT NULL,
	manifest     TEXT NOT NULL,  -- JSON of the module's manifest
	capabilities TEXT NOT NULL,  -- JSON list
	yanked       INTEGER NOT NULL DEFAULT 0,
	published    INTEGER NOT NULL,
	PRIMARY KEY (plugin, version)
);
CREATE TABLE IF NOT EXISTS reviews (
	plugin  INTEGER NOT NULL REFERENCES plugins(id),
	account INTEGER NOT NULL REFERENCES accounts(id),
	version TEXT NOT NULL,
	rating  INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
	body    TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (plugin, account)
);
CREATE INDEX IF NOT EXISTS reviews_latest ON reviews (plugin, created DESC);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (name, description, readme, tokenize = 'unicode61', prefix = '2 3 4');
INSERT INTO search (search, rank) VALUES ('rank', 'bm25(10.0, 3.0, 1.0)');
`

// store is the registry's database: accounts, plugins, versions, reviews
// and the full-text index, in one SQLite file.
type store struct {
	db *sql.DB
}

func openStore(ctx context.Context, path string) (*store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, errors.Join(fmt.Errorf("registry database %s: %w", path, err), db.Close())
	}
	return &store{db: db}, nil
}

// account is who a token belongs to.
type account struct {
	id         int64
	name, key  string
	lastReview time.Time
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// addAccount makes an account and returns its token, which only its hash
// is kept of.
func (s *store) addAccount(ctx context.Context, name, key string) (string, error) {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails
	token := "ply_" + hex.EncodeToString(b)
	_, err := s.db.ExecContext(ctx, `INSERT INTO accounts (name, token_hash, key) VALUES (?, ?, ?)`, name, hashToken(token), key)
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return "", fmt.Errorf("account %q: %w", name, ErrExists)
	}
	return token, err
}

// byToken returns the account of token, or ErrUnauthorized.
func (s *store) byToken(ctx context.Context, token string) (account, error) {
	var a account
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, key, last_review FROM accounts WHERE token_hash = ?`, hashToken(token)).
		Scan(&a.id, &a.name, &a.key, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return account{}, ErrUnauthorized
	}
	a.lastReview = time.Unix(0, last)
	return a, err
}

// newVersion is a checked upload, ready to be stored.
type newVersion struct {
	name, description, readme string
	v                         market.Version
}

// publish stores a version; the artifact is already on disk. The plugin
// is made on its first version, owned by the publisher; a version that
// exists, yanked or not, is never replaced.
func (s *store) publish(ctx context.Context, by account, nv newVersion) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	var id, owner int64
	err = tx.QueryRowContext(ctx, `SELECT id, owner FROM plugins WHERE name = ?`, nv.name).Scan(&id, &owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO plugins (name, owner) VALUES (?, ?)`, nv.name, by.id)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
	case err != nil:
		return err
	case owner != by.id:
		return fmt.Errorf("plugin %s belongs to another publisher: publish it under another name: %w", nv.name, ErrForbidden)
	}
	manifest, _ := json.Marshal(nv.v.Manifest)
	caps, _ := json.Marshal(nv.v.Capabilities)
	_, err = tx.ExecContext(ctx, `INSERT INTO versions (plugin, version, abi, sha256, size, signature, manifest, capabilities, published)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, nv.v.Version, nv.v.ABI, nv.v.SHA256, nv.v.Size, nv.v.Signature,
		string(manifest), string(caps), nv.v.Published.UnixNano())
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return fmt.Errorf("plugin %s@%s is already published, and versions are never overwritten: publish a new version: %w", nv.name, nv.v.Version, ErrExists)
	}
	if err != nil {
		return err
	}
	latest, err := latestOf(ctx, tx, id)
	if err != nil {
		return err
	}
	// The plugin's page shows the description and readme of its latest version.
	if latest == nv.v.Version {
		_, err = tx.ExecContext(ctx, `UPDATE plugins SET latest = ?, description = ?, readme = ? WHERE id = ?`, latest, nv.description, nv.readme, id)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE plugins SET latest = ? WHERE id = ?`, latest, id)
	}
	if err != nil {
		return err
	}
	if err := reindex(ctx, tx, id); err != nil {
		return err
	}
	return tx.Commit()
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// latestOf returns the highest version of plugin id not yanked, or "".
func latestOf(ctx context.Context, q execQuerier, id int64) (string, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM versions WHERE plugin = ? AND yanked = 0`, id)
	if err != nil {
		return "", err
	}
	defer func() { _ = rows.Close() }()
	var best *semver.Version
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		v, err := semver.StrictNewVersion(s)
		if err == nil && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return "", rows.Err()
	}
	return best.Original(), rows.Err()
}

// reindex writes plugin id's row of the full-text index.
func reindex(ctx context.Context, q execQuerier, id int64) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM search WHERE rowid = ?`, id); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, `INSERT INTO search (rowid, name, description, readme)
		SELECT id, replace(replace(name, '.', ' '), '-', ' ') || ' ' || name, description, readme FROM plugins WHERE id = ?`, id)
	return err
}

// yank marks a version yanked: it stays downloadable for the lockfiles
// that pin it, but no install or update picks it any more.
func (s *store) yank(ctx context.Context, by account, name, version string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	var id, owner int64
	err = tx.QueryRowContext(ctx, `SELECT id, owner FROM plugins WHERE name = ?`, name).Scan(&id, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("plugin %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if owner != by.id {
		return fmt.Errorf("plugin %s belongs to another publisher: %w", name, ErrForbidden)
	}
	res, err := tx.ExecContext(ctx, `UPDATE versions SET yanked = 1 WHERE plugin = ? AND version = ?`, id, version)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("plugin %s has no version %s: %w", name, version, ErrNotFound)
	}
	latest, err := latestOf(ctx, tx, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE plugins SET latest = ? WHERE id = ?`, latest, id); err != nil {
		return err
	}
	return tx.Commit()
}

// ftsQuery turns what a user typed into an FTS5 query: each word a quoted
// prefix term, all required. Nothing typed is FTS5 syntax, so no input
// is a syntax error.
func ftsQuery(q string) string {
	var terms []string
	for w := range strings.FieldsFuncSeq(q, func(r rune) bool {
		word := r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127
		return !word
	}) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
		if len(terms) == 16 {
			break
		}
	}
	return strings.Join(terms, " ")
}

// search returns up to limit plugins matching q, best first; with q
// empty, the plugins by name. Matches in names and descriptions come
// first, by bm25 (a name weighs most); readmes are searched only to fill
// the page when those are fewer than limit.
func (s *store) search(ctx context.Context, q string, limit int) ([]market.Summary, error) {
	fq := ftsQuery(q)
	if fq == "" {
		return s.summaries(ctx, `SELECT `+summaryCols+` FROM plugins p JOIN accounts a ON a.id = p.owner ORDER BY p.name LIMIT ?`, limit)
	}
	const match = `SELECT ` + summaryCols + ` FROM search JOIN plugins p ON p.id = search.rowid
		JOIN accounts a ON a.id = p.owner WHERE search MATCH ? ORDER BY search.rank LIMIT ?`
	out, err := s.summaries(ctx, match, "{name description} : ("+fq+")", limit)
	if err != nil || len(out) == limit {
		return out, err
	}
	// Readme-only matches are weak ones: they follow in the order plugins
	// were first published, which stops at limit, instead of ranking what
	// may be most of the index (bm25 costs microseconds a row).
	more, err := s.summaries(ctx, `SELECT `+summaryCols+` FROM search JOIN plugins p ON p.id = search.rowid
		JOIN accounts a ON a.id = p.owner WHERE search MATCH ? LIMIT ?`,
		"readme : ("+fq+") NOT {name description} : ("+fq+")", limit-len(out))
	return append(out, more...), err
}

const summaryCols = `p.name, p.description, p.latest, a.name, p.rating_sum, p.rating_count`

func (s *store) summaries(ctx context.Context, query string, args ...any) ([]market.Summary, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := []market.Summary{}
	for rows.Next() {
		var sm market.Summary
		var sum int
		if err := rows.Scan(&sm.Name, &sm.Description, &sm.Latest, &sm.Publisher, &sum, &sm.Rating.Count); err != nil {
			return nil, err
		}
		sm.Rating.Average = average(sum, sm.Rating.Count)
		out = append(out, sm)
	}
	return out, rows.Err()
}

func average(sum, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// maxReviews is how many of the latest reviews a plugin's page shows.
const maxReviews = 20

// plugin returns everything about plugin name.
func (s *store) plugin(ctx context.Context, name string) (*market.Plugin, error) {
	p := &market.Plugin{}
	var id int64
	var sum int
	err := s.db.QueryRowContext(ctx, `SELECT p.id, p.name, p.description, p.latest, p.readme, a.name, a.key, p.rating_sum, p.rating_count
		FROM plugins p JOIN accounts a ON a.id = p.owner WHERE p.name = ?`, name).
		Scan(&id, &p.Name, &p.Description, &p.Latest, &p.Readme, &p.Publisher, &p.Key, &sum, &p.Rating.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("plugin %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p.Rating.Average = average(sum, p.Rating.Count)
	if p.Versions, err = s.versions(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT a.name, r.version, r.rating, r.body, r.created FROM reviews r
		JOIN accounts a ON a.id = r.account WHERE r.plugin = ? ORDER BY r.created DESC LIMIT ?`, id, maxReviews)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var r market.Review
		var created int64
		if err := rows.Scan(&r.User, &r.Version, &r.Rating, &r.Text, &created); err != nil {
			return nil, err
		}
		r.Created = time.Unix(0, created).UTC()
		p.Reviews = append(p.Reviews, r)
	}
	return p, rows.Err()
}

// versions returns plugin id's versions, newest first.
func (s *store) versions(ctx context.Context, id int64) ([]market.Version, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, abi, sha256, size, signature, manifest, capabilities, yanked, published
		FROM versions WHERE plugin = ?`, id)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []market.Version
	for rows.Next() {
		var v market.Version
		var manifest, caps string
		var published int64
		if err := rows.Scan(&v.Version, &v.ABI, &v.SHA256, &v.Size, &v.Signature, &manifest, &caps, &v.Yanked, &published); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(manifest), &v.Manifest); err != nil {
			return nil, fmt.Errorf("version %s: stored manifest: %w", v.Version, err)
		}
		if err := json.Unmarshal([]byte(caps), &v.Capabilities); err != nil {
			return nil, fmt.Errorf("version %s: stored capabilities: %w", v.Version, err)
		}
		v.Requires = market.Requires(v.Manifest)
		v.Published = time.Unix(0, published).UTC()
		out = append(out, v)
	}
	sortVersions(out)
	return out, rows.Err()
}

// review stores by's review of plugin name, replacing by's earlier one:
// one review per user per plugin. An account may review once per every
// (the rate limit), counted from its last review of any plugin.
func (s *store) review(ctx context.Context, by account, name string, r market.Review, now time.Time, every time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last_review FROM accounts WHERE id = ?`, by.id).Scan(&last); err != nil {
		return err
	}
	if wait := time.Unix(0, last).Add(every).Sub(now); last != 0 && wait > 0 {
		return &RateError{Wait: wait}
	}
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM plugins WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("plugin %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return err
	}
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM versions WHERE plugin = ? AND version = ?`, id, r.Version).Scan(&exists); err != nil {
		return err
	}
	if exists == 0 {
		return fmt.Errorf("plugin %s has no version %q to review: %w", name, r.Version, ErrBadRequest)
	}
	var old, had int
	err = tx.QueryRowContext(ctx, `SELECT rating, 1 FROM reviews WHERE plugin = ? AND account = ?`, id, by.id).Scan(&old, &had)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO reviews (plugin, account, version, rating, body, created) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (plugin, account) DO UPDATE SET version = excluded.version, rating = excluded.rating, body = excluded.body, created = excluded.created`,
		id, by.id, r.Version, r.Rating, r.Text, now.UnixNano())
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE plugins SET rating_sum = rating_sum - ? + ?, rating_count = rating_count + ? WHERE id = ?`,
		old, r.Rating, 1-had, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET last_review = ? WHERE id = ?`, now.UnixNano(), by.id); err != nil {
		return err
	}
	return tx.Commit()
}
