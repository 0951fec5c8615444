package auth

import (
	"net"
	"net/url"
	"strings"
)

// originOf returns the origin (lower-case scheme://host[:port]) of an
// http(s) URL without user info, path, query or fragment.
func originOf(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// redirectTarget returns where a sign-in may return to: raw when it is a
// path of this service or a URL of an allowed origin, else "/". A browser
// reads "//evil.com" and "/\evil.com" as another host, and drops tabs and
// newlines anywhere in a URL, so backslashes, control characters and
// spaces refuse the target outright.
func (o *OAuth) redirectTarget(raw string) string {
	if raw == "" || len(raw) > 2048 {
		return "/"
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if !isText(raw) {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "/"
	}
	if strings.HasPrefix(raw, "/") {
		// A path of this service: "/x", never "//host".
		if strings.HasPrefix(raw, "//") || u.Scheme != "" || u.Host != "" || u.User != nil {
			return "/"
		}
		return raw
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if o.origins[origin] || (o.cfg.AllowLoopbackRedirects && isLoopbackHost(u.Hostname())) {
		return raw
	}
	return "/"
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withFragment returns target with its fragment replaced by values.
func withFragment(target string, values url.Values) string {
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	return target + "#" + values.Encode()
}
