// Command barehealth is the floor of bench/compare.sh's health row: plain
// net/http answering GET /healthz with the bytes the kernel's /healthz
// sends (the same headers, a fresh request id, the same body) and the
// kernel's server timeouts, and nothing else. How close the kernel comes
// to it is what the kernel's own work on a probe costs.
//
//	go run ./bench/barehealth -http 127.0.0.1:8095
package main

import (
	"encoding/binary"
	"flag"
	"log"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
)

func main() {
	addr := flag.String("http", "127.0.0.1:8095", "listen address")
	flag.Parse()
	body := []byte("{\"status\":\"ok\"}\n")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"no-store"}
		h["Content-Security-Policy"] = []string{"default-src 'none'; frame-ancestors 'none'"}
		h["Content-Type"] = []string{"application/json"}
		h["Referrer-Policy"] = []string{"no-referrer"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["X-Frame-Options"] = []string{"DENY"}
		var id uuid.UUID // a fresh random id, as the kernel gives
		binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
		h["X-Request-Id"] = []string{id.String()}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: mux,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
