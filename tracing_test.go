package appkernel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"appkernel"
	"appkernel/internal/testenv"
)

func tracedKernel(t *testing.T, trusted []string) (base string, spans *tracetest.InMemoryExporter, logs *testenv.Buffer) {
	t.Helper()
	spans = tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	_, base, _, logs = metricsKernel(t, func(c *appkernel.Config) {
		c.TracerProvider = tp
		c.TrustedProxies = trusted
	})
	return base, spans, logs
}

// waitSpan waits for a span named name and returns every span so far.
func waitSpan(t *testing.T, spans *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := spans.GetSpans()
		for _, s := range got {
			if s.Name == name {
				return got
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			t.Fatalf("no span %q; have %q", name, names)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spanNamed(spans tracetest.SpanStubs, name string) (tracetest.SpanStub, bool) {
	for _, s := range spans {
		if s.Name == name {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

// One request that saves an entity and enqueues a job makes one trace: the
// server span named by the route pattern, the store and Redis calls under
// it; the job's run is a trace of its own linked to the request's span,
// with the job's store call under it. The access line carries the trace
// id beside the request id.
func TestTraceOfARequestAndItsJob(t *testing.T) {
	base, exp, logs := tracedKernel(t, nil)
	if code, body := get(t, "GET", base+"/things/gear"); code != 200 {
		t.Fatalf("GET: %d %s", code, body)
	}
	waitSpan(t, exp, "save notes") // the job's save ends last
	all := waitSpan(t, exp, "job obs_note")

	server, ok := spanNamed(all, "GET /things/{id}")
	if !ok || server.SpanKind != trace.SpanKindServer {
		t.Fatalf("no server span named by the route: %+v", all)
	}
	tid := server.SpanContext.TraceID()
	children := map[string]bool{}
	for _, s := range all {
		if s.Parent.SpanID() == server.SpanContext.SpanID() {
			children[s.Name] = true
		}
	}
	for _, want := range []string{"save things", "get things", "redis get", "redis evalsha"} {
		if !children[want] {
			t.Errorf("the server span has no child %q; children %v", want, children)
		}
	}
	job, _ := spanNamed(all, "job obs_note")
	if job.SpanContext.TraceID() == tid || job.Parent.IsValid() {
		t.Errorf("the job's span is not a root of its own: %+v", job)
	}
	if len(job.Links) != 1 || job.Links[0].SpanContext.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the job's span links to %+v, want the request's span %s", job.Links, server.SpanContext.SpanID())
	}
	note, _ := spanNamed(all, "save notes")
	if note.Parent.SpanID() != job.SpanContext.SpanID() {
		t.Errorf("the job's store call is not under the job's span: %+v", note.Parent)
	}

	line := requestLine(t, logs, "/things/gear")
	if line["trace_id"] != tid.String() || line["request_id"] == "" {
		t.Errorf("access line %v, want trace_id %s and a request_id", line, tid)
	}
}

// A traceparent is continued only from a trusted proxy; from anyone else
// the request starts a trace of its own.
func TestTraceparentOnlyFromTrustedProxies(t *testing.T) {
	const sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct {
		name      string
		trusted   []string
		continues bool
	}{
		{"untrusted peer", nil, false},
		{"trusted proxy", []string{"127.0.0.1"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, exp, _ := tracedKernel(t, c.trusted)
			req, _ := http.NewRequest("GET", base+"/readyz", nil)
			req.Header.Set("Traceparent", sent)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			server, _ := spanNamed(waitSpan(t, exp, "GET /readyz"), "GET /readyz")
			continued := server.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" &&
				server.Parent.SpanID().String() == "00f067aa0ba902b7"
			if continued != c.continues {
				t.Fatalf("trace %s parent %s: continued %v, want %v", server.SpanContext.TraceID(), server.Parent.SpanID(), continued, c.continues)
			}
			if !c.continues && len(server.Links) != 0 {
				t.Errorf("an untrusted traceparent is linked: %+v", server.Links)
			}
		})
	}
}

// requestLine returns the JSON access line of the request to path.
func requestLine(t *testing.T, logs *testenv.Buffer, path string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["path"] == path {
			return m
		}
	}
	t.Fatalf("no access line for %s:\n%s", path, logs.String())
	return nil
}

// With an OTLP endpoint in the environment the kernel exports its spans
// there over OTLP/HTTP, flushed by Close; a gRPC protocol is refused.
func TestTracesAreExportedToTheOTLPEndpoint(t *testing.T) {
	posts := make(chan string, 16)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	cfg, err := appkernel.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Tracing {
		t.Fatal("ConfigFromEnv: Tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	var logs testenv.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/readyz", nil))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-posts:
		if got != "POST /v1/traces application/x-protobuf" {
			t.Fatalf("the collector got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no spans reached the collector after Close")
	}
	if !strings.Contains(logs.String(), "tracing: on (OTLP/HTTP to "+collector.URL) {
		t.Errorf("start-up lines:\n%s", logs.String())
	}

	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if _, err := appkernel.New(context.Background(), cfg); !errors.Is(err, appkernel.ErrConfig) || !strings.Contains(err.Error(), "grpc") {
		t.Fatalf("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: %v, want ErrConfig naming it", err)
	}
}
