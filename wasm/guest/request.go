package guest

import (
	"strings"

	"github.com/plykit/ply/wasm/abi"
)

// Request is what a layer sees of one call. It is valid only during the
// layer call; copy what you keep.
type Request struct {
	Kind    string // "http", "job", "event", …
	Module  string
	Handler string
	Method  string // HTTP only
	Target  string // HTTP only: the path and query, "/users?id=1"
	headers []header
	body    []byte
}

type header struct{ name, value string }

// Header returns the first value of the request header name (matched
// without regard to case), or "".
func (r *Request) Header(name string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// Headers calls fn for each header value, in order.
func (r *Request) Headers(fn func(name, value string)) {
	for _, h := range r.headers {
		fn(h.name, h.value)
	}
}

// Body returns the request's payload: the HTTP body when the plugin asked
// for it ([Plugin.Body]), the job's or event's data otherwise.
func (r *Request) Body() []byte { return r.body }

func (r *Request) decode(msg []byte) error {
	rd := abi.NewReader(msg)
	r.Kind = rd.String()
	r.Module = rd.String()
	r.Handler = rd.String()
	r.Method = rd.String()
	r.Target = rd.String()
	n := rd.Count(2)
	r.headers = r.headers[:0]
	for range n {
		r.headers = append(r.headers, header{rd.String(), rd.String()})
	}
	r.body = rd.Bytes()
	return rd.Err()
}

// Response is what the layer answers: continue (the default), respond or
// fail.
type Response struct {
	action  byte
	reqOps  []op
	resOps  []op
	status  int
	body    []byte
	message string
}

type op struct {
	kind        byte
	name, value string
}

// SetRequestHeader sets a request header that the inner layers and the
// handler see.
func (w *Response) SetRequestHeader(name, value string) {
	w.reqOps = append(w.reqOps, op{abi.HeaderSet, name, value})
}

// DelRequestHeader removes a request header before the inner layers.
func (w *Response) DelRequestHeader(name string) {
	w.reqOps = append(w.reqOps, op{abi.HeaderDel, name, ""})
}

// SetHeader sets a response header, whether the layer responds or
// continues.
func (w *Response) SetHeader(name, value string) {
	w.resOps = append(w.resOps, op{abi.HeaderSet, name, value})
}

// AddHeader adds a response header value.
func (w *Response) AddHeader(name, value string) {
	w.resOps = append(w.resOps, op{abi.HeaderAdd, name, value})
}

// Respond short-circuits the chain: the inner layers and the handler do
// not run, and the caller gets status (HTTP) and body.
func (w *Response) Respond(status int, body []byte) {
	w.action, w.status, w.body = abi.Respond, status, body
}

// Fail fails the call with an error the host attributes to the plugin.
func (w *Response) Fail(message string) { w.action, w.message = abi.Fail, message }

func (w *Response) reset() {
	w.action, w.status, w.body, w.message = abi.Continue, 0, nil, ""
	w.reqOps, w.resOps = w.reqOps[:0], w.resOps[:0]
}

func (w *Response) encode(b []byte) []byte {
	e := abi.NewWriter(b)
	e.Byte(w.action)
	for _, ops := range [][]op{w.reqOps, w.resOps} {
		e.Uvarint(uint64(len(ops)))
		for _, o := range ops {
			e.Byte(o.kind)
			e.String(o.name)
			e.String(o.value)
		}
	}
	e.Uvarint(uint64(max(w.status, 0)))
	e.BytesField(w.body)
	e.String(w.message)
	return e.Bytes()
}
