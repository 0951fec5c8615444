package middleware

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// ValidPath refuses, with 400 "invalid_path", a request whose decoded URL
// path is not valid UTF-8 or contains a NUL byte (/items/%FF, /items/%00):
// no route of a JSON API names such a thing, and passed on as an id it
// reaches a database that refuses it (PostgreSQL's text cannot hold it).
func ValidPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
			WriteErrorCode(w, r, http.StatusBadRequest, "invalid_path", "the URL path is not valid UTF-8 text")
			return
		}
		next.ServeHTTP(w, r)
	})
}
