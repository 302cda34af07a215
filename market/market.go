// Package market is the marketplace's shared vocabulary: what a registry
// serves and a client reads, in JSON. The registry server is
// [github.com/plykit/ply/market/registry], the client
// [github.com/plykit/ply/market/client], and the host's side — ply.lock
// and the artifact cache — [github.com/plykit/ply/market/lock].
//
// # Artifacts
//
// An artifact is a wasm plugin module built with the guest kit
// ([github.com/plykit/ply/wasm/guest]). Its manifest, read from the module
// itself, gives its name, version, ABI version and the plugins it requires
// with semver constraints. Each artifact is signed by its publisher's
// minisign key, with the trusted comment "ply NAME@VERSION"; registries
// check the signature on upload, hosts again before they load it.
package market

import (
	"time"

	"github.com/plykit/ply/wasm/abi"
)

// Summary is a plugin in a list of search results.
type Summary struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Latest      string `json:"latest"` // the highest version not yanked; empty when all are
	Publisher   string `json:"publisher"`
	Rating      Rating `json:"rating"`
}

// Plugin is everything a registry knows of a plugin: its versions, newest
// first, and its ratings with the latest reviews.
type Plugin struct {
	Summary
	Key      string    `json:"key"` // the publisher's minisign public key
	Readme   string    `json:"readme,omitempty"`
	Versions []Version `json:"versions"`
	Reviews  []Review  `json:"reviews,omitempty"` // the latest, newest first
}

// Version is one published version of a plugin.
type Version struct {
	Version      string        `json:"version"`
	ABI          uint32        `json:"abi"`
	SHA256       string        `json:"sha256"`
	Size         int64         `json:"size"`
	Signature    string        `json:"signature"`
	Requires     []Dependency  `json:"requires,omitempty"`
	Capabilities []string      `json:"capabilities,omitempty"` // what an operator must grant: "log", "kv"…
	Manifest     *abi.Manifest `json:"manifest,omitempty"`
	Yanked       bool          `json:"yanked,omitempty"`
	Published    time.Time     `json:"published"`
}

// Dependency is a plugin a version requires, with a semver constraint
// ("^1.2", ">=1, <3"; empty: any version).
type Dependency struct {
	Name       string `json:"name"`
	Constraint string `json:"constraint,omitempty"`
	Optional   bool   `json:"optional,omitempty"`
}

// Rating is a plugin's ratings: their average (1 to 5; 0 with none) and
// how many there are.
type Rating struct {
	Average float64 `json:"average"`
	Count   int     `json:"count"`
}

// Review is one user's rating and text of a plugin, at a version.
type Review struct {
	User    string    `json:"user"`
	Version string    `json:"version"`
	Rating  int       `json:"rating"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

// Published is a registry's answer to an upload.
type Published struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// ErrorBody is the JSON body of a registry's error answers.
type ErrorBody struct {
	Error string `json:"error"`
}

// Requires returns a manifest's dependencies as a registry lists them.
func Requires(m *abi.Manifest) []Dependency {
	var out []Dependency
	for _, d := range m.Requires {
		out = append(out, Dependency{Name: d.Name, Constraint: d.Constraint, Optional: d.Optional})
	}
	return out
}
