package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"appkernel"
	"appkernel/kerneltest"
)

// The README's quick start must be this example, and its curl session must
// run as written against it: these tests read README.md.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fenced returns the body of the fenced block that follows marker.
func fenced(t *testing.T, doc, marker string) string {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("README.md has no %q", marker)
	}
	rest := doc[i+len(marker):]
	start := strings.Index(rest, "```")
	if start < 0 {
		t.Fatalf("no fenced block after %q", marker)
	}
	rest = rest[start:]
	nl := strings.IndexByte(rest, '\n')
	end := strings.Index(rest[nl+1:], "\n```")
	if end < 0 {
		t.Fatalf("unterminated block after %q", marker)
	}
	return rest[nl+1 : nl+1+end+1]
}

func TestReadmeQuickStartIsTheExample(t *testing.T) {
	doc := readme(t)
	for marker, file := range map[string]string{
		"<!-- quickstart: examples/widgets/main.go -->":    "main.go",
		"<!-- quickstart: examples/widgets/widgets.go -->": "widgets.go",
		"<!-- quickstart: examples/widgets/tasks.go -->":   "tasks.go",
	} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := fenced(t, doc, marker); got != string(want) {
			t.Errorf("README block %s differs from examples/widgets/%s; paste the file into the README", marker, file)
		}
	}
}

func TestReadmeCurlSession(t *testing.T) {
	tk := kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) { c.Setup = setup },
	})
	script := fenced(t, readme(t), "<!-- curl session: tested by examples/widgets/readme_test.go -->")
	vars := map[string]string{}
	n := 0
	for _, cmd := range shellCommands(script) {
		n++
		runCurlLine(t, tk.Server.URL, cmd, vars)
	}
	if n < 8 {
		t.Fatalf("only %d commands in the README session", n)
	}
}

// shellCommands joins continued lines and drops comments and blanks.
func shellCommands(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

var assignRE = regexp.MustCompile(`^([A-Z_]+)=\$\((curl .*) \| jq -r ([.\w\[\]]+)\)$`)

// runCurlLine runs one line of the session: `curl ...` or
// `NAME=$(curl ... | jq -r .path)`. A trailing `# expect NNN` comment is
// not used: curl's -f makes a failing status an error, and lines the README
// expects to fail are written without -f and checked by `-w` below.
func runCurlLine(t *testing.T, base, line string, vars map[string]string) {
	t.Helper()
	assign, path := "", ""
	if m := assignRE.FindStringSubmatch(line); m != nil {
		assign, line, path = m[1], m[2], m[3]
	}
	args, err := shellWords(line, vars)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if len(args) == 0 || args[0] != "curl" {
		t.Fatalf("README session line is not curl: %s", line)
	}
	method, url, body := "GET", "", ""
	fail := false
	header := http.Header{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		next := func() string {
			i++
			if i >= len(args) {
				t.Fatalf("%s: %s needs a value", line, a)
			}
			return args[i]
		}
		switch {
		case a == "-X":
			method = next()
		case a == "-H":
			k, v, _ := strings.Cut(next(), ":")
			header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case a == "-d" || a == "--data":
			body = next()
			if method == "GET" {
				method = "POST"
			}
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--"):
			if strings.Contains(a, "f") {
				fail = true
			}
		default:
			url = a
		}
	}
	if !strings.HasPrefix(url, "localhost:8000") {
		t.Fatalf("%s: URL %q must start with localhost:8000", line, url)
	}
	req, err := http.NewRequest(method, base+strings.TrimPrefix(url, "localhost:8000"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if fail && resp.StatusCode >= 400 {
		t.Fatalf("README line failed with %d: %s\n%s", resp.StatusCode, line, data)
	}
	if assign == "" {
		return
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: response is not JSON: %s", line, data)
	}
	val, err := jqPath(v, path)
	if err != nil {
		t.Fatalf("%s: jq %s: %v in %s", line, path, err, data)
	}
	vars[assign] = val
}

// jqPath follows a jq path such as .user.id or .widgets[0].id.
func jqPath(v any, path string) (string, error) {
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' }) {
		if idx, ok := strings.CutSuffix(part, "]"); ok {
			n, err := strconv.Atoi(idx)
			arr, isArr := v.([]any)
			if err != nil || !isArr || n >= len(arr) {
				return "", fmt.Errorf("no index %s", part)
			}
			v = arr[n]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("no field %s", part)
		}
		v = obj[part]
	}
	switch s := v.(type) {
	case string:
		return s, nil
	case nil:
		return "", fmt.Errorf("null")
	default:
		b, _ := json.Marshal(s)
		return string(b), nil
	}
}

// shellWords splits a command line the way sh does for the quoting the
// README uses: single quotes literal, double quotes with $VAR expansion.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur bytes.Buffer
	inWord := false
	expand := func(i int) (int, error) {
		j := i + 1
		for j < len(s) && (s[j] == '_' || (s[j] >= 'A' && s[j] <= 'Z')) {
			j++
		}
		name := s[i+1 : j]
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("unknown variable $%s", name)
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord, i = true, i+j+2
		case c == '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\\$`, s[i+1]) >= 0 {
					cur.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '$' {
					var err error
					if i, err = expand(i); err != nil {
						return nil, err
					}
					continue
				}
				cur.WriteByte(s[i])
				i++
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \"")
			}
			inWord, i = true, i+1
		case c == '$':
			var err error
			if i, err = expand(i); err != nil {
				return nil, err
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord, i = true, i+1
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
