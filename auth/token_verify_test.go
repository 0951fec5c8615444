package auth

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyFastAgreesWithGolangJWT signs claim sets — plain, and every odd
// shape JSON allows — with the service's key and header, and checks that
// the fast path and golang-jwt's Parser accept the same tokens and return
// the same claims.
func TestVerifyFastAgreesWithGolangJWT(t *testing.T) {
	t.Parallel()
	ts := newTokenSigner(testSecret, "appkernel", time.Hour)
	now := time.Now().Unix()
	exp, iat := strconv.FormatInt(now+3600, 10), strconv.FormatInt(now, 10)
	base := `"sub":"u1","email":"a@example.com","role":"user","ws":"w1","typ":"access","sid":"s1","iss":"appkernel","jti":"j1"`
	cases := map[string]string{
		"plain":                 `{` + base + `,"exp":` + exp + `,"iat":` + iat + `}`,
		"spaces":                " {\n\t" + base + ` , "exp" : ` + exp + ` ,"iat":` + iat + " }\r\n",
		"no iat":                `{` + base + `,"exp":` + exp + `}`,
		"no exp":                `{` + base + `,"iat":` + iat + `}`,
		"exp null":              `{` + base + `,"exp":null,"iat":` + iat + `}`,
		"exp null after value":  `{` + base + `,"exp":` + exp + `,"exp":null}`,
		"sub null after value":  `{` + base + `,"sub":null,"exp":` + exp + `}`,
		"exp fractional":        `{` + base + `,"exp":` + exp + `.5}`,
		"exp exponent":          `{` + base + `,"exp":1e12}`,
		"exp quoted":            `{` + base + `,"exp":"` + exp + `"}`,
		"exp quoted garbage":    `{` + base + `,"exp":"soon"}`,
		"exp negative":          `{` + base + `,"exp":-5}`,
		"exp leading zero":      `{` + base + `,"exp":0` + exp + `}`,
		"exp huge":              `{` + base + `,"exp":99999999999999999999}`,
		"exp 2^53+1":            `{` + base + `,"exp":9007199254740993}`,
		"expired in leeway":     `{` + base + `,"exp":` + strconv.FormatInt(now-2, 10) + `}`,
		"expired past leeway":   `{` + base + `,"exp":` + strconv.FormatInt(now-60, 10) + `}`,
		"iat in leeway":         `{` + base + `,"exp":` + exp + `,"iat":` + strconv.FormatInt(now+2, 10) + `}`,
		"iat future":            `{` + base + `,"exp":` + exp + `,"iat":` + strconv.FormatInt(now+600, 10) + `}`,
		"nbf past":              `{` + base + `,"exp":` + exp + `,"nbf":` + iat + `}`,
		"nbf future":            `{` + base + `,"exp":` + exp + `,"nbf":` + strconv.FormatInt(now+600, 10) + `}`,
		"iss other":             `{` + base + `,"iss":"x","exp":` + exp + `}`,
		"iss missing":           `{"sub":"u1","typ":"access","exp":` + exp + `}`,
		"duplicate sub":         `{` + base + `,"sub":"u2","exp":` + exp + `}`,
		"upper-case key":        `{` + base + `,"SUB":"u2","exp":` + exp + `}`,
		"escaped string":        `{` + base + `,"email":"a\u0040example.com","exp":` + exp + `}`,
		"escaped quote":         `{` + base + `,"email":"a\"b","exp":` + exp + `}`,
		"unicode":               `{` + base + `,"email":"é@example.com","exp":` + exp + `}`,
		"invalid utf-8":         "{" + base + ",\"email\":\"\xff\",\"exp\":" + exp + "}",
		"extra claim":           `{` + base + `,"admin":true,"exp":` + exp + `}`,
		"aud string":            `{` + base + `,"aud":"x","exp":` + exp + `}`,
		"aud array":             `{` + base + `,"aud":["x","y"],"exp":` + exp + `}`,
		"sub number":            `{` + base + `,"sub":7,"exp":` + exp + `}`,
		"sub bool":              `{` + base + `,"sub":true,"exp":` + exp + `}`,
		"sub object":            `{` + base + `,"sub":{},"exp":` + exp + `}`,
		"trailing comma":        `{` + base + `,"exp":` + exp + `,}`,
		"trailing data":         `{` + base + `,"exp":` + exp + `}x`,
		"two objects":           `{` + base + `,"exp":` + exp + `}{}`,
		"empty object":          `{}`,
		"array":                 `[]`,
		"not json":              `nope`,
		"empty":                 ``,
		"unterminated":          `{` + base + `,"exp":` + exp,
		"control char":          "{" + base + ",\"email\":\"a\tb\",\"exp\":" + exp + "}",
		"typ refresh":           `{` + base + `,"typ":"refresh","exp":` + exp + `}`,
		"missing colon":         `{"sub" "u1"}`,
		"number then garbage":   `{` + base + `,"exp":` + exp + `x}`,
		"minus alone":           `{` + base + `,"exp":-}`,
		"null typo":             `{` + base + `,"exp":nul}`,
		"sub after null":        `{"sub":null,` + base[len(`"sub":"u1",`):] + `,"exp":` + exp + `}`,
		"whitespace before end": `{` + base + `,"exp":` + exp + "\n}",
	}
	enc := base64.RawURLEncoding
	for name, claims := range cases {
		text := hs256Header + "." + enc.EncodeToString([]byte(claims))
		sig, err := jwt.SigningMethodHS256.Sign(text, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		tok := text + "." + enc.EncodeToString(sig)
		for _, tampered := range []bool{false, true} {
			tk := tok
			if tampered {
				tk = text + "." + enc.EncodeToString(append(sig[:len(sig)-1:len(sig)-1], sig[len(sig)-1]^1))
			}
			fast, handled, fastErr := ts.verifyFast(tk)
			if !handled {
				t.Fatalf("%s: the service's header was not handled by the fast path", name)
			}
			ref, refErr := ts.verifyJWT(tk)
			if (fastErr == nil) != (refErr == nil) {
				t.Errorf("%s (tampered %v): fast err %v, golang-jwt err %v", name, tampered, fastErr, refErr)
				continue
			}
			if fastErr == nil && !reflect.DeepEqual(fast, ref) {
				t.Errorf("%s: fast claims %+v, golang-jwt claims %+v", name, fast, ref)
			}
			if tampered && !errors.Is(fastErr, errFastSignature) {
				t.Errorf("%s: tampered signature answered %v", name, fastErr)
			}
		}
	}
}

// TestVerifyFastLeavesOtherHeaders: any header but the service's own goes
// to golang-jwt (which refuses alg none, RS256, HS384, …).
func TestVerifyFastLeavesOtherHeaders(t *testing.T) {
	t.Parallel()
	ts := newTokenSigner(testSecret, "appkernel", time.Hour)
	for name, tok := range forgedTokens(t, testSecret) {
		_, handled, _ := ts.verifyFast(tok)
		hdr := tok
		if i := len(hs256Header); len(tok) > i {
			hdr = tok[:i+1]
		}
		if handled != (hdr == hs256Header+".") && name != "two parts" {
			t.Errorf("%s: handled %v by the fast path", name, handled)
		}
	}
}
