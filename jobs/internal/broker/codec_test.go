package broker

import (
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []Message{
		{Name: "send_email", MaxAttempts: 5, UserID: "u_1", WorkspaceID: "w_1", Payload: []byte(`{"to":"a@example.com"}`)},
		{Name: "x", Payload: []byte(`null`)},
		{Name: "traced", UserID: "u", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Payload: []byte(`{}`)},
		{Name: "n", UserID: "with\x00nul and ü", WorkspaceID: strings.Repeat("w", 300), MaxAttempts: 1 << 20, Payload: []byte(`"` + strings.Repeat("p", 70000) + `"`)},
	} {
		d, err := decodeJob(string(encodeJob(&m)))
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != m.Name || d.MaxAttempts != m.MaxAttempts || d.UserID != m.UserID || d.WorkspaceID != m.WorkspaceID || d.TraceParent != m.TraceParent || d.Payload != string(m.Payload) {
			t.Errorf("round trip of %+v gave %+v", m, d)
		}
	}
}

func TestCodecRejectsGarbage(t *testing.T) {
	t.Parallel()
	good := string(encodeJob(&Message{Name: "job", UserID: "user", Payload: []byte(`{}`)}))
	for _, s := range []string{"", "\x03" + good[1:], good[:3], "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x01\x05ab"} {
		if _, err := decodeJob(s); err == nil {
			t.Errorf("decodeJob(%q) accepted garbage", s)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	f.Add(string(encodeJob(&Message{Name: "a", MaxAttempts: 3, UserID: "u", Payload: []byte(`1`)})))
	f.Add("\x01")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decodeJob(s) // must not panic
		if err != nil {
			return
		}
		again := encodeJob(&Message{Name: d.Name, MaxAttempts: d.MaxAttempts, UserID: d.UserID, WorkspaceID: d.WorkspaceID, TraceParent: d.TraceParent, Payload: []byte(d.Payload)})
		if d2, err := decodeJob(string(again)); err != nil || d2 != d {
			t.Fatalf("re-encoding %q: %+v, %v", s, d2, err)
		}
	})
}
