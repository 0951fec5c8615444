package middleware

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// responseRecorder wraps the ResponseWriter below Logger to learn the status
// and the number of body bytes. It lives inside the request state, so it
// costs no allocation of its own. It keeps the optional interfaces working:
// Flush, Hijack and ReadFrom forward to the wrapped writer, and Unwrap lets
// http.ResponseController reach deadlines and anything else.
type responseRecorder struct {
	http.ResponseWriter
	st          *requestState // the state the recorder lives in (see stateOfWriter)
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *responseRecorder) reset(inner http.ResponseWriter, st *requestState) {
	*w = responseRecorder{ResponseWriter: inner, st: st}
}

// stateOfWriter returns the request state of the responseRecorder in w or
// below it (through Unwrap), or nil when no Logger runs: for code that has
// the writer but not the request.
func stateOfWriter(w http.ResponseWriter) *requestState {
	for {
		switch x := w.(type) {
		case *responseRecorder:
			return x.st
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

func (w *responseRecorder) WriteHeader(code int) {
	if w.wroteHeader {
		// Let net/http report the superfluous call; keep the first status.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints) may repeat and precede the real one.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy(w, file) on the wrapped writer's fast path (sendfile).
func (w *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// Flush implements http.Flusher; it does nothing when the wrapped writer
// cannot flush.
func (w *responseRecorder) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls. A flush sends
// the header (status 200 unless set), except when the wrapped writer cannot
// flush: then nothing was sent and the status is still open.
func (w *responseRecorder) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if !w.wroteHeader && !errors.Is(err, http.ErrNotSupported) {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	return err
}

// Hijack implements http.Hijacker when the wrapped writer does.
func (w *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.status = http.StatusSwitchingProtocols
		w.wroteHeader = true
	}
	return c, rw, err
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
