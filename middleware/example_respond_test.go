package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"appkernel/middleware"
)

// An app handler decodes a JSON body, validates it and answers with JSON;
// every failure becomes the kernel's one error shape.
func ExampleDecodeJSON() {
	type input struct {
		Name string `json:"name"`
	}
	create := func(w http.ResponseWriter, r *http.Request) {
		var in input
		if err := middleware.DecodeJSON(r, &in); err != nil {
			middleware.WriteError(w, r, err) // 400, 413 or 415
			return
		}
		if in.Name == "" {
			middleware.WriteError(w, r, middleware.NewError(http.StatusUnprocessableEntity, "validation_error", "name is required"))
			return
		}
		middleware.WriteJSON(w, http.StatusCreated, map[string]string{"name": in.Name})
	}

	for _, body := range []string{`{"name":"sprocket"}`, `{"name":`, `{"name":"a","admin":true}`, `{}`} {
		req := httptest.NewRequest(http.MethodPost, "/widgets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		create(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 201 {"name":"sprocket"}
	// 400 {"error":{"code":"invalid_json","message":"request body is not valid JSON"}}
	// 400 {"error":{"code":"invalid_json","message":"unknown field \"admin\""}}
	// 422 {"error":{"code":"validation_error","message":"name is required"}}
}

func ExampleWriteJSON() {
	rec := httptest.NewRecorder()
	middleware.WriteJSON(rec, http.StatusOK, map[string]any{"id": "w1", "count": 3})
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())
	// Output:
	// 200 application/json
	// {"count":3,"id":"w1"}
}

// errWidgetNotFound stands for a sentinel of another package (db.ErrNotFound):
// an HTTPStatus method gives it its HTTP meaning without importing middleware.
type errWidgetNotFound struct{}

func (errWidgetNotFound) Error() string   { return "widget not found" }
func (errWidgetNotFound) HTTPStatus() int { return http.StatusNotFound }

// Behind RequestID every error carries the request's ID; errors without an
// HTTP meaning are a 500 whose text stays in the log.
func ExampleWriteError() {
	h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			middleware.WriteError(w, r, fmt.Errorf("get widget: %w", errWidgetNotFound{}))
		case "/broken":
			middleware.WriteError(w, r, errors.New("connection refused"))
		}
	}))
	for _, path := range []string{"/missing", "/broken"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-ID", "req-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 404 {"error":{"code":"not_found","message":"get widget: widget not found","request_id":"req-1"}}
	// 500 {"error":{"code":"internal_error","message":"internal server error","request_id":"req-1"}}
}
