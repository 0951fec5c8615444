package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"path"
	"strings"
	"time"
)

// DeviceCookie is the name of the cookie that carries a device token (see
// LoginInput.DeviceToken).
const DeviceCookie = "ak_device"

// DeviceTokenTTL is how long a device token is honoured after it was
// issued. Every successful sign-in issues a fresh one.
const DeviceTokenTTL = 365 * 24 * time.Hour

// deviceTokenPrefix versions the format:
// "dv1." base64url(nonce[16] | expires unix s [8]) "." base64url(HMAC-SHA256).
const deviceTokenPrefix = "dv1."

// devices issues and checks device tokens (OWASP's "device cookies"): a
// client that signed in to an account holds a token naming it a known
// device of that account. Tokens are stateless: the MAC binds the nonce
// and the expiry to the account (a hash of the normalized email), so a
// token of another account, a forged or a tampered one is no device.
type devices struct {
	key []byte
	now func() time.Time
}

func (d devices) mac(account string, payload []byte) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// issue returns a new device token of account.
func (d devices) issue(account string) string {
	var payload [24]byte
	_, _ = rand.Read(payload[:16])
	binary.BigEndian.PutUint64(payload[16:], uint64(d.now().Add(DeviceTokenTTL).Unix()))
	enc := base64.RawURLEncoding
	return deviceTokenPrefix + enc.EncodeToString(payload[:]) + "." + enc.EncodeToString(d.mac(account, payload[:]))
}

// verify returns the device id of token when it is a live device token of
// account, else "" (an unknown device).
func (d devices) verify(account, token string) string {
	rest, ok := strings.CutPrefix(token, deviceTokenPrefix)
	if !ok || len(rest) > 128 {
		return ""
	}
	p, m, ok := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding.Strict() // one spelling per token
	payload, err1 := enc.DecodeString(p)
	sum, err2 := enc.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || len(payload) != 24 || !hmac.Equal(sum, d.mac(account, payload)) {
		return ""
	}
	if exp := int64(binary.BigEndian.Uint64(payload[16:])); d.now().Unix() >= exp {
		return ""
	}
	return enc.EncodeToString(payload[:16])
}

// setDeviceCookie stores token in the browser for the routes beside the
// current one (the auth router's mount point), out of reach of scripts.
func setDeviceCookie(w http.ResponseWriter, r *http.Request, token string) {
	if token == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     DeviceCookie,
		Value:    token,
		Path:     path.Dir(r.URL.Path),
		MaxAge:   int(DeviceTokenTTL / time.Second),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
}

// deviceTokenOf returns the device token a request presents: the body's
// field when set, else the cookie.
func deviceTokenOf(r *http.Request, fromBody string) string {
	if fromBody != "" {
		return fromBody
	}
	if c, err := r.Cookie(DeviceCookie); err == nil {
		return c.Value
	}
	return ""
}
