// Package kerneltest starts an appkernel.Kernel on a temporary SQLite
// database behind httptest and gives tests a small JSON client. It is how
// the kernel's own HTTP tests are written, and how an app's can be:
//
//	tk := kerneltest.New(t, &kerneltest.Options{
//		Mount: func(k *appkernel.Kernel) { k.Mount("/widgets", Routes(k)) },
//	})
//	alice := tk.User(t, "alice@example.com")
//	alice.Post(t, "/widgets", map[string]any{"name": "gear"}).Expect(t, 201)
//
// The package's example_test.go runs this (TestWidgets), as the README shows it.
package kerneltest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"appkernel"
	"appkernel/auth"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// Options tunes the kernel a test starts.
type Options struct {
	// Config is changed by this function before New; DatabaseURL defaults
	// to a fresh SQLite file in t.TempDir(), Redis is off, dev auto-start
	// is off and logs go to the test log only on failure.
	Config func(*appkernel.Config)
	// Mount is called with the kernel before the server starts, to mount
	// the app's routes.
	Mount func(*appkernel.Kernel)
}

// Kernel is a running test kernel.
type Kernel struct {
	*appkernel.Kernel
	Server *httptest.Server
	Logs   *LogBuffer

	password string
}

// Password is the password of every user User creates.
const Password = "correct-horse-battery-staple"

// New starts a kernel for t with opts (nil for defaults) and stops it in
// t.Cleanup.
func New(t testing.TB, opts *Options) *Kernel {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	logs := &LogBuffer{}
	cfg := appkernel.DefaultConfig()
	cfg.Name = "kerneltest"
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	cfg.JWTSecret = "kerneltest-secret-kerneltest-secret-0123456789"
	cfg.Logger = slog.New(middleware.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("kerneltest: appkernel.New: %v", err)
	}
	if opts.Mount != nil {
		opts.Mount(k)
	}
	srv := httptest.NewServer(k)
	tk := &Kernel{Kernel: k, Server: srv, Logs: logs, password: Password}
	t.Cleanup(func() {
		srv.Close()
		if err := k.Close(); err != nil {
			t.Errorf("kerneltest: Close: %v", err)
		}
		if t.Failed() {
			t.Logf("kernel logs:\n%s", logs.String())
		}
	})
	return tk
}

// Client returns an anonymous client.
func (k *Kernel) Client() *Client {
	return &Client{BaseURL: k.Server.URL, HTTP: k.Server.Client()}
}

// User creates an active user with Password through the Go API, signs it
// in over HTTP, and returns a client sending its access token.
func (k *Kernel) User(t testing.TB, email string) *Client {
	t.Helper()
	return k.newUser(t, email, auth.RoleUser)
}

// Admin is User with the admin role.
func (k *Kernel) Admin(t testing.TB, email string) *Client {
	t.Helper()
	return k.newUser(t, email, auth.RoleAdmin)
}

func (k *Kernel) newUser(t testing.TB, email, role string) *Client {
	t.Helper()
	if k.Auth() == nil {
		t.Fatal("kerneltest: User needs auth (a database, and DisableAuth false)")
	}
	in := auth.CreateUserInput{Email: email, Password: k.password, Role: role}
	if _, err := k.Auth().CreateUser(context.Background(), in); err != nil {
		t.Fatalf("kerneltest: create user %s: %v", email, err)
	}
	c := k.Client()
	res := c.Post(t, "/auth/login", map[string]any{"email": email, "password": k.password})
	res.Expect(t, http.StatusOK)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		User         struct {
			ID          string `json:"id"`
			WorkspaceID string `json:"workspace_id"`
		} `json:"user"`
	}
	res.JSON(t, &tok)
	c.Token, c.RefreshToken, c.UserID, c.WorkspaceID = tok.AccessToken, tok.RefreshToken, tok.User.ID, tok.User.WorkspaceID
	return c
}

// Client sends JSON requests to the test server.
type Client struct {
	BaseURL      string
	HTTP         *http.Client
	Token        string      // sent as "Authorization: Bearer <Token>" when set
	Header       http.Header // extra headers on every request
	RefreshToken string      // set by Kernel.User
	UserID       string      // set by Kernel.User
	WorkspaceID  string      // set by Kernel.User
}

// Do sends method path with body (nil, []byte, string, or a value encoded
// as JSON) and returns the whole response.
func (c *Client) Do(t testing.TB, method, path string, body any) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("kerneltest: encode body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, rd)
	if err != nil {
		t.Fatalf("kerneltest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("kerneltest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("kerneltest: read %s %s: %v", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, method: method, path: path}
}

// Get sends a GET.
func (c *Client) Get(t testing.TB, path string) *Response {
	t.Helper()
	return c.Do(t, "GET", path, nil)
}

// Post sends a POST with a JSON body.
func (c *Client) Post(t testing.TB, path string, body any) *Response {
	t.Helper()
	return c.Do(t, "POST", path, body)
}

// Delete sends a DELETE.
func (c *Client) Delete(t testing.TB, path string) *Response {
	t.Helper()
	return c.Do(t, "DELETE", path, nil)
}

// Response is a whole HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte

	method, path string
}

// Expect fails t unless the status is want.
func (r *Response) Expect(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.method, r.path, r.Status, want, r.Body)
	}
	return r
}

// JSON decodes the body into v, failing t when it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s %s: body is not JSON (%v): %s", r.method, r.path, err, r.Body)
	}
}

// ErrorCode returns the code of a kernel JSON error body, failing t when
// the body is not in the error shape.
func (r *Response) ErrorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" || e.Error.RequestID == "" {
		t.Fatalf("%s %s: body is not the kernel error shape: %s", r.method, r.path, r.Body)
	}
	return e.Error.Code
}

// LogBuffer collects log output safely from many goroutines; String
// returns everything logged so far.
type LogBuffer = testenv.Buffer
