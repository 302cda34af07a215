// Command hostile is the test guest: how it behaves on each HTTP call is
// chosen by the X-Mode header (else its mode option). Non-HTTP calls echo
// their payload, or continue when it is empty: the benchmark's work.
package main

import (
	"errors"
	"strconv"

	"github.com/plykit/ply/wasm/guest"
)

var (
	mode  = "ok"
	hoard [][]byte
	spin  int
)

func init() {
	guest.Register(guest.Plugin{
		Name:    "hostile",
		Version: "0.1.0",
		Body:    true,
		Options: []guest.Option{guest.String("mode", &mode, guest.OneOf("ok", "loop", "bomb", "trap", "fail", "kv"))},
		Init: func() error {
			guest.Log(guest.LevelInfo, "hostile ready in mode "+mode)
			return nil
		},
		Start: func() error { return guest.KVSet("started", []byte("yes")) },
		Stop: func() error {
			if mode == "fail" {
				return errors.New("hostile: refused to stop")
			}
			return guest.KVSet("stopped", []byte("yes"))
		},
		Layer: layer,
	})
}

func layer(req *guest.Request, res *guest.Response) {
	if req.Kind != "http" {
		if b := req.Body(); len(b) > 0 {
			res.Respond(200, b)
		}
		return
	}
	m := req.Header("X-Mode")
	if m == "" {
		m = mode
	}
	switch m {
	case "loop":
		for {
			spin++
		}
	case "bomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case "trap":
		panic("hostile: trap on purpose")
	case "fail":
		res.Fail("hostile: refused on purpose")
	case "fetch": // GET the URL in X-Target through the host
		got, err := guest.Fetch("GET", req.Header("X-Target"), nil, nil)
		if err != nil {
			res.Fail(err.Error())
			return
		}
		res.Respond(got.Status, got.Body)
	case "caps": // the clock, randomness and an event
		b := make([]byte, 8)
		guest.Random(b)
		res.SetHeader("X-Now", strconv.FormatInt(guest.Now(), 10))
		res.SetHeader("X-Random", strconv.Itoa(len(b)))
		if err := guest.Publish(req.Header("X-Subject"), []byte(`"hello"`)); err != nil {
			res.Fail(err.Error())
		}
	case "echo":
		res.Respond(200, req.Body())
	case "respond":
		res.SetHeader("X-Hostile", "responded")
		res.Respond(418, []byte("teapot"))
	case "kv":
		n := 0
		if v, err := guest.KVGet("count"); err == nil {
			n, _ = strconv.Atoi(string(v))
		}
		n++
		_ = guest.KVSet("count", []byte(strconv.Itoa(n)))
		res.SetHeader("X-Count", strconv.Itoa(n))
	default:
		res.SetRequestHeader("X-Seen", req.Method+" "+req.Target)
	}
}

func main() {}
