package readmesnippets

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryREADMESnippetCompiles checks that each Go block of the README
// appears verbatim (indented one level, as in a function body, or at top
// level) in snippets.go, which the compiler checks. The quick start blocks
// are left to examples/widgets/readme_test.go.
func TestEveryREADMESnippetCompiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The testing snippet is a test that runs, in kerneltest.
	code := ""
	for _, f := range []string{"snippets.go", "../../kerneltest/example_test.go", "../../webhooks/example_verify_test.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code += string(src)
	}
	blocks := regexp.MustCompile("(?s)(<!-- quickstart: [^>]*-->\\s*)?```go\\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	checked := 0
	for _, b := range blocks {
		if b[1] != "" {
			continue
		}
		block := b[2]
		if !strings.Contains(code, block) && !strings.Contains(code, indent(block)) {
			t.Errorf("this README snippet is not in internal/readmesnippets/snippets.go (or kerneltest/example_test.go), so nothing checks that it compiles:\n%s", block)
		}
		checked++
	}
	if checked < 6 {
		t.Errorf("found %d README snippets besides the quick start, want at least 6", checked)
	}
}

// indent indents each non-empty line of s by one tab.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\t" + l
		}
	}
	return strings.Join(lines, "\n")
}
