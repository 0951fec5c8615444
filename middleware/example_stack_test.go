package middleware_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

// The kernel's wiring: the default stack on the root chi router, the JSON
// 404/405 handlers, then the routes, served through Root. Every response
// carries the request ID and the security headers; the access line is JSON
// on the logger.
func ExampleStack() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		// Drop the changing fields so the example's output is stable.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration_ms", "client_ip":
				return slog.Attr{}
			}
			return a
		},
	}))
	mws, err := middleware.Stack(middleware.StackOptions{
		Logger:         logger,
		TrustedProxies: []string{"10.0.0.0/8"},
		CORS:           middleware.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true},
		SkipLog:        func(r *http.Request) bool { return r.URL.Path == "/healthz" },
		// After: metering, authentication and rate limiting go here.
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := chi.NewRouter()
	r.Use(mws...)
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Get("/widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
	})

	req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
	req.Header.Set("X-Request-ID", "req-42")
	rec := httptest.NewRecorder()
	h := middleware.Root(r) // what http.Server serves
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("X-Request-ID"), rec.Header().Get("X-Content-Type-Options"))
	fmt.Print(rec.Body.String())
	// Output:
	// {"level":"INFO","msg":"request","method":"GET","route":"/widgets/{id}","path":"/widgets/42","status":200,"bytes":12,"request_id":"req-42"}
	// 200 req-42 nosniff
	// {"id":"42"}
}
