package auth

import (
	"errors"
	"net/http"
	"testing"

	"appkernel/db/dbtest"
)

func TestCanonicalEmail(t *testing.T) {
	t.Parallel()
	same := map[string]string{
		"ada@example.com":           "ada@example.com",
		"  Ada@Example.COM ":        "ada@example.com",
		"ａｄａ@ｅｘａｍｐｌｅ．ｃｏｍ":           "ada@example.com",      // fullwidth, dot included
		"ada\u0301@example.com":     "ad\u00e1@example.com", // combining acute joins its letter
		"ad\u00e1@example.com":      "ad\u00e1@example.com",
		"ada@b\u00fccher.example":   "ada@b\u00fccher.example",
		"ada@xn--bcher-kva.example": "ada@b\u00fccher.example",
		"ada@B\u00dcCHER.example":   "ada@b\u00fccher.example",
		"Stra\u00dfe@example.com":   "strasse@example.com", // case folding
		"\u0441\u0435\u0440\u0433\u0435\u0439@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444": "\u0441\u0435\u0440\u0433\u0435\u0439@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
		"\u5c71\u7530\u305f\u308d\u3046@example.jp":                                              "\u5c71\u7530\u305f\u308d\u3046@example.jp", // Han + Hiragana
		"taro\u5c71\u7530@example.jp":                                                            "taro\u5c71\u7530@example.jp",               // Latin + Han
		"first.last+tag@sub.example.org":                                                         "first.last+tag@sub.example.org",
		"\u2160@example.com":                                                                     "i@example.com", // Roman numeral one
	}
	for in, want := range same {
		got, err := CanonicalEmail(in)
		if err != nil || got != want {
			t.Errorf("CanonicalEmail(%+q) = %+q, %v; want %+q", in, got, err, want)
		}
	}
	refused := map[string]string{
		"\u0430da@example.com":        "Cyrillic а among Latin",
		"ada@ex\u0430mple.com":        "Cyrillic а in a Latin domain label",
		"ada\u200b@example.com":       "zero-width space",
		"ada@example.com\u200b":       "trailing zero-width space",
		"\u200bada@example.com":       "leading zero-width space",
		"ada\u200d@example.com":       "zero-width joiner",
		"ada\u202e@example.com":       "right-to-left override",
		"ada\u2066@example.com":       "bidi isolate",
		"ada\ufeff@example.com":       "byte order mark",
		"ad\u00ada@example.com":       "soft hyphen",
		"ada\ufe0f@example.com":       "variation selector",
		"ada\u0338@example.com":       "a combining mark that forms no letter",
		"ada\u0301\u0301@example.com": "a second accent",
		"ad a@example.com":            "space",
		"ada\u3000@example.com":       "ideographic space",
		"ada\x00@example.com":         "NUL",
		"ada@":                        "no domain",
		"@example.com":                "no local part",
		"ada":                         "no @",
		"":                            "empty",
		"Ada <ada@example.com>":       "display name",
		"ada@exa_mple.com":            "not a host name",
		"\xffada@example.com":         "not UTF-8",
	}
	for in, why := range refused {
		if got, err := CanonicalEmail(in); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("CanonicalEmail(%+q) (%s) = %+q, %v; want ErrInvalidEmail", in, why, got, err)
		}
	}
}

// TestLookalikeEmailsAreOneAccountOrRefused: beside ada@example.com,
// lookalike spellings either reach that account (register: 409; login:
// the same user) or are refused with 422 invalid_email at registration —
// never a second account. Login with a refused spelling is an ordinary
// 401, as for any unknown email.
func TestLookalikeEmailsAreOneAccountOrRefused(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		ada := h.register("ada@example.com", "ada-password-1")
		register := func(email string) resp {
			return h.do("POST", "/auth/register", map[string]string{"email": email, "password": "mallory-password"})
		}
		for _, email := range []string{"ADA@example.com", "ａｄａ@example.com", "ada@ＥＸＡＭＰＬＥ.com", " ada@example.com "} {
			if r := register(email); r.status != http.StatusConflict || r.code(t) != "email_taken" {
				t.Errorf("register %+q: %d %s, want 409 email_taken", email, r.status, r.body)
			}
			if s := h.login(email, "ada-password-1"); s.User.ID != ada.User.ID {
				t.Errorf("login %+q signed in %s, want ada", email, s.User.ID)
			}
		}
		for _, email := range []string{"\u0430da@example.com", "ada\u200b@example.com", "ada@example.com\u200b", "ada\u0338@example.com", "ada@ex\u0430mple.com", "ada\u202e@example.com"} {
			if r := register(email); r.status != http.StatusUnprocessableEntity || r.code(t) != "invalid_email" {
				t.Errorf("register %+q: %d %s, want 422 invalid_email", email, r.status, r.body)
			}
			r := h.do("POST", "/auth/login", map[string]string{"email": email, "password": "ada-password-1"})
			if r.status != http.StatusUnauthorized || r.code(t) != "invalid_credentials" {
				t.Errorf("login %+q: %d %s, want 401 invalid_credentials", email, r.status, r.body)
			}
		}
		// A combining accent and its precomposed letter are one account,
		// beside ada.
		acc := h.register("ada\u0301@example.com", "acc-password-1")
		if acc.User.Email != "ad\u00e1@example.com" || acc.User.ID == ada.User.ID {
			t.Fatalf("accented account: %+v", acc.User)
		}
		if r := register("ad\u00e1@example.com"); r.status != http.StatusConflict {
			t.Fatalf("precomposed beside combining: %d %s", r.status, r.body)
		}
		// The Go API canonicalizes too.
		if u, err := h.auth.GetUserByEmail(t.Context(), "ＡＤＡ@example.com"); err != nil || u.ID != ada.User.ID {
			t.Fatalf("GetUserByEmail fullwidth: %+v, %v", u, err)
		}
		if _, err := h.auth.CreateUser(t.Context(), CreateUserInput{Email: "\u0430da@example.com", Password: "some-password-1"}); !errors.Is(err, ErrInvalidEmail) {
			t.Fatalf("CreateUser lookalike: %v", err)
		}
	})
}
