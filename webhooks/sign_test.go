package webhooks

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification (and of its
// reference libraries): what every receiver library checks against.
func TestSignMatchesTheSpecExample(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	// The test's own verifier agrees with the spec too.
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9wZQ== "+got)
	if !verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)) {
		t.Fatal("the independent verifier refuses the spec's example")
	}
	if verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232315}`), time.Unix(1614265330, 0)) {
		t.Fatal("the independent verifier accepts a changed body")
	}
}

func TestSecretsAreWhsecAndRandom(t *testing.T) {
	store := openStore(t, "sqlite")
	_, s1 := mustCreate(t, store, "ws1", "https://example.com/hook")
	_, s2 := mustCreate(t, store, "ws1", "https://example.com/hook")
	key, err := secretKey(s1)
	if !strings.HasPrefix(s1, "whsec_") || err != nil || len(key) < 24 || s1 == s2 {
		t.Fatalf("secrets %q %q (key %d bytes, %v)", s1, s2, len(key), err)
	}
	list, err := List(context.Background(), store, "ws1")
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
}

func TestValidateURL(t *testing.T) {
	for _, bad := range []string{"", "ftp://example.com/", "javascript:alert(1)", "https://user:pw@example.com/",
		"https://user@example.com/", "/relative", "https://", "http:///path", "https://example.com/" + strings.Repeat("a", 2100), "mailto:a@b.c"} {
		if err := ValidateURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !isInvalid(err) {
			t.Errorf("%q: %v does not match ErrInvalid", bad, err)
		}
	}
	for _, good := range []string{"https://example.com/hook", "http://hooks.example.com:8080/a?b=c"} {
		if err := ValidateURL(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	store := openStore(t, "sqlite")
	if _, _, err := Create(context.Background(), store, "ws", "gopher://example.com", Options{}); !isInvalid(err) {
		t.Fatalf("Create with a bad URL: %v", err)
	}
}
