package readmesnippets

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMELinksResolve: every link of the README is an anchor of one of
// its headings, a web address, or a file of this repository, and so is
// every repository path it names in backquotes (`db/BENCH.md`).
func TestREADMELinksResolve(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	// Code blocks hold Go (db.Find[Widget](ctx, …)), not links.
	prose := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(readme, "")

	anchors := map[string]bool{}
	for _, h := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(prose, -1) {
		slug := strings.ToLower(strings.ReplaceAll(h[1], " ", "-"))
		slug = regexp.MustCompile(`[^a-z0-9_-]`).ReplaceAllString(slug, "")
		anchors[slug] = true
	}
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join("../..", filepath.FromSlash(p)))
		return err == nil
	}
	for _, m := range regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(prose, -1) {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "http://"):
		case strings.HasPrefix(target, "#"):
			if !anchors[target[1:]] {
				t.Errorf("README links to #%s, which is no heading of it", target[1:])
			}
		case strings.HasPrefix(target, "/") || strings.HasPrefix(target, ".."):
			t.Errorf("README links to %s, outside the repository", target)
		default:
			if !exists(strings.SplitN(target, "#", 2)[0]) {
				t.Errorf("README links to %s, which is not in the repository", target)
			}
		}
	}
	for _, m := range regexp.MustCompile("`([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*\\.(?:md|go|sh))`").FindAllStringSubmatch(prose, -1) {
		if !exists(m[1]) {
			t.Errorf("README names %s, which is not in the repository", m[1])
		}
	}
}
