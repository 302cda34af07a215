package guest

import (
	"errors"

	"github.com/plykit/ply/wasm/abi"
)

// Log levels for [Log], as log/slog numbers them.
const (
	LevelDebug = -4
	LevelInfo  = 0
	LevelWarn  = 4
	LevelError = 8
)

// ErrNotFound is returned by [KVGet] for a key that holds no value.
var ErrNotFound = errors.New("guest: key not found")

// HTTPResponse is the answer to [Fetch].
type HTTPResponse struct {
	Status  int
	Headers [][2]string
	Body    []byte
}

func encodeFetch(method, url string, headers [][2]string, body []byte) []byte {
	w := abi.NewWriter(nil)
	w.String(method)
	w.String(url)
	w.Uvarint(uint64(len(headers)))
	for _, h := range headers {
		w.String(h[0])
		w.String(h[1])
	}
	w.BytesField(body)
	return w.Bytes()
}

func decodeFetch(b []byte) (*HTTPResponse, error) {
	r := abi.NewReader(b)
	res := &HTTPResponse{Status: int(r.Uvarint())} //nolint:gosec // an HTTP status from the host
	n := r.Count(2)
	for range n {
		res.Headers = append(res.Headers, [2]string{r.String(), r.String()})
	}
	res.Body = append([]byte(nil), r.Bytes()...)
	return res, r.Err()
}
