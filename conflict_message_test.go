package appkernel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
	"appkernel/middleware"
)

// profilesApp is a small app on the kernel: POST /profiles saves the body
// as a profile (tenant and handle are unique together), GET /profiles
// finds them with the where clause and params of the query string.
func profilesApp(t *testing.T, databaseURL string) *kerneltest.Kernel {
	return kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) { c.DatabaseURL = databaseURL },
		Mount: func(k *appkernel.Kernel) {
			if err := k.DB().EnsureIndex(context.Background(), "profiles", []string{"tenant", "handle"}, true); err != nil {
				t.Fatal(err)
			}
			r := chi.NewRouter()
			r.Post("/", func(w http.ResponseWriter, r *http.Request) {
				var in map[string]any
				if err := middleware.DecodeJSON(r, &in); err != nil {
					middleware.WriteError(w, r, err)
					return
				}
				e, err := k.DB().SaveEntity(r.Context(), "profiles", in)
				if err != nil {
					middleware.WriteError(w, r, err)
					return
				}
				middleware.WriteJSON(w, http.StatusCreated, e)
			})
			r.Get("/", func(w http.ResponseWriter, r *http.Request) {
				var params []any
				for _, p := range r.URL.Query()["p"] {
					params = append(params, p)
				}
				es, err := k.DB().FindEntities(r.Context(), "profiles", db.Query{Where: r.URL.Query().Get("where"), Params: params})
				if err != nil {
					middleware.WriteError(w, r, err)
					return
				}
				middleware.WriteJSON(w, http.StatusOK, es)
			})
			k.Mount("/profiles", r)
		},
	})
}

// errorBody reads the kernel's error shape.
func errorBody(t *testing.T, res *kerneltest.Response) middleware.ErrorDetail {
	t.Helper()
	var b middleware.ErrorBody
	res.JSON(t, &b)
	if b.Error.RequestID == "" {
		t.Fatalf("no request_id in %s", res.Body)
	}
	return b.Error
}

// accessLine returns the access line of the request with id.
func accessLine(t *testing.T, logs *kerneltest.LogBuffer, id string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["request_id"] == id && line["msg"] == "request" {
			return line
		}
	}
	t.Fatalf("no access line with request_id %s in:\n%s", id, logs.String())
	return nil
}

// databases are the three dialects, each a fresh database for the test.
var databases = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return dbtest.FreshSQLite(t) },
	"postgres": func(t *testing.T) string { return dbtest.FreshPostgres(t, testenv.PostgresURL(t)) },
	"mysql":    func(t *testing.T) string { return dbtest.FreshMySQL(t, testenv.MySQLURL(t)) },
}

// onEachDatabase runs test in parallel on the profiles app of each dialect,
// with a first profile (acme, alice, score 5) saved.
func onEachDatabase(t *testing.T, test func(t *testing.T, name string, app *kerneltest.Kernel)) {
	for name, fresh := range databases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app := profilesApp(t, fresh(t))
			app.Client().Post(t, "/profiles", map[string]any{"tenant": "acme", "handle": "alice", "score": 5}).Expect(t, http.StatusCreated)
			test(t, name, app)
		})
	}
}

// driverWords are what drivers put in their messages: none may reach a client.
var driverWords = []string{"Duplicate", "1062", "23000", "23505", "SQLSTATE", "constraint", "profiles_tenant_handle_key",
	"UNIQUE", "acme", "alice", "Error ", "ERROR", "42883", "does not exist", "function", "operator", "double precision"}

// A unique violation answers 409 with the kernel's words, naming the
// fields of the index, never the driver's message, the value, the index
// or the SQLSTATE; those go to the access line of the request.
func TestConflictBodyCarriesNoDriverText(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, name string, app *kerneltest.Kernel) {
		c := app.Client()
		res := c.Post(t, "/profiles", map[string]any{"tenant": "acme", "handle": "alice"}).Expect(t, http.StatusConflict)
		e := errorBody(t, res)
		if e.Code != "conflict" || e.Message != "this combination of tenant and handle is already taken" {
			t.Errorf("conflict body: %s", res.Body)
		}
		for _, w := range driverWords {
			if strings.Contains(string(res.Body), w) {
				t.Errorf("the body carries %q: %s", w, res.Body)
			}
		}
		line := accessLine(t, app.Logs, e.RequestID)
		logged, _ := line["error"].(string)
		want := map[string]string{"sqlite": "UNIQUE constraint failed", "postgres": "23505", "mysql": "Duplicate entry"}[name]
		if line["status"] != float64(409) || line["level"] != "INFO" || !strings.Contains(logged, want) {
			t.Errorf("access line of the request does not carry the driver's %q at INFO: %v", want, line)
		}
	})
}

// A clause the database cannot type is a 400 in the kernel's words; the
// driver's (operators, types, SQLSTATE) go to the access line.
func TestInvalidQueryBodyCarriesNoDriverText(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, name string, app *kerneltest.Kernel) {
		c := app.Client()
		for _, where := range []string{"LOWER([score]) = ?", "? IS NULL", "[score] + ? = 6"} {
			res := c.Get(t, "/profiles?where="+url.QueryEscape(where)+"&p=1")
			if res.Status == http.StatusOK {
				continue // the database typed it
			}
			if res.Status != http.StatusBadRequest {
				t.Fatalf("%s: status %d: %s", where, res.Status, res.Body)
			}
			e := errorBody(t, res)
			for _, w := range driverWords {
				if strings.Contains(e.Message, w) {
					t.Errorf("%s: the body carries %q: %s", where, w, res.Body)
				}
			}
			if name == "postgres" && strings.HasPrefix(e.Message, "the database cannot type the clause") {
				line := accessLine(t, app.Logs, e.RequestID)
				if logged, _ := line["error"].(string); !strings.Contains(logged, "SQLSTATE") {
					t.Errorf("%s: the access line does not carry the driver's message: %v", where, line)
				}
			}
		}
	})
}
