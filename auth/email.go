package auth

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// maxEmailLen is the longest email accepted, in bytes of its canonical form.
const maxEmailLen = 254

// CanonicalEmail returns the one spelling of email under which an account
// is stored, found and unique, or an error wrapping ErrInvalidEmail whose
// message says what is wrong. Emails that look alike are one account or
// refused:
//
//   - spaces around are trimmed; an invisible, control or direction
//     character anywhere (zero-width space, joiner, BOM, soft hyphen, bidi
//     override, variation selector, …) is refused;
//   - the local part is NFKC-normalized and case-folded: "ＡＤＡ", "Ada"
//     and "ada" are one; a combining accent joins its letter ("a" + U+0301
//     is "á"), and one that forms no letter of Latin, Greek or Cyrillic is
//     refused;
//   - the domain is mapped and checked by IDNA (UTS #46, lookup profile)
//     and kept in its Unicode form, so "bücher.example" and
//     "xn--bcher-kva.example" are one;
//   - a local part or domain label mixing scripts ("аda" with a Cyrillic
//     а) is refused; Latin with Han, Hiragana, Katakana, Bopomofo or Hangul
//     as Japanese, Chinese and Korean write is not mixing (UTS #39's highly
//     restrictive level).
//
// A single-script lookalike ("аԁа", all Cyrillic) is not detected.
func CanonicalEmail(email string) (string, error) {
	s := strings.TrimSpace(email)
	if s == "" {
		return "", withMsg(ErrInvalidEmail, "email is required")
	}
	if len(s) > 4*maxEmailLen || !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	if err := checkVisible(s); err != nil {
		return "", err
	}
	s = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	if err := checkVisible(s); err != nil { // NFKC can make a space
		return "", err
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", withMsg(ErrInvalidEmail, "email must be an address such as name@example.com")
	}
	local, domain := s[:at], s[at+1:]
	if err := checkMarks(local); err != nil {
		return "", err
	}
	if err := checkScripts(local, "local part"); err != nil {
		return "", err
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", withMsg(ErrInvalidEmail, "email domain is not a valid domain name")
	}
	if domain, err = idna.Lookup.ToUnicode(ascii); err != nil {
		return "", withMsg(ErrInvalidEmail, "email domain is not a valid domain name")
	}
	for label := range strings.SplitSeq(domain, ".") {
		if err := checkScripts(label, "domain label"); err != nil {
			return "", err
		}
	}
	s = local + "@" + domain
	if len(s) > maxEmailLen {
		return "", withMsg(ErrInvalidEmail, fmt.Sprintf("email must be at most %d bytes", maxEmailLen))
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || a.Name != "" {
		return "", withMsg(ErrInvalidEmail, "email must be an address such as name@example.com")
	}
	return s, nil
}

// NormalizeEmail returns the canonical form of email (CanonicalEmail), the
// form in which emails are stored, compared and unique. An email that
// CanonicalEmail refuses comes back trimmed and lower-cased, the form
// emails were stored in before: a lookup with it finds no account made
// since, at most one stored before canonical forms.
func NormalizeEmail(email string) string {
	if c, err := CanonicalEmail(email); err == nil {
		return c
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// checkVisible refuses characters that show nothing or reorder what is
// shown: controls, format characters (zero-width, bidi, BOM, soft hyphen),
// separators, private use, unassigned, variation selectors and the other
// default-ignorable code points.
func checkVisible(s string) error {
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.In(r, unicode.Cf, unicode.Co, unicode.Zs,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return withMsg(ErrInvalidEmail, fmt.Sprintf("email contains an invisible, space, control or direction character (U+%04X)", r))
		}
	}
	return nil
}

// checkMarks refuses a combining mark left after NFKC on a Latin, Greek,
// Cyrillic or common character: one that composes with its letter is gone
// by then, so this one would draw an accent over a lookalike.
func checkMarks(local string) error {
	var prev rune
	for _, r := range local {
		if unicode.In(r, unicode.Mn, unicode.Me) && (prev < 0x80 ||
			unicode.In(prev, unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Common, unicode.Mn, unicode.Me)) {
			return withMsg(ErrInvalidEmail, fmt.Sprintf("email contains a combining mark that forms no letter (U+%04X)", r))
		}
		prev = r
	}
	return nil
}

// cjkScripts are the script sets one name may mix (UTS #39 highly
// restrictive): Latin with Japanese, Chinese or Korean writing.
var cjkScripts = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// checkScripts refuses s when its letters come from more than one script
// (Common and Inherited characters, such as digits, dots and marks, count
// for none), except the combinations of cjkScripts.
func checkScripts(s, what string) error {
	var seen []string
	for _, r := range s {
		if r < 0x80 {
			if unicode.IsLetter(r) && !slices.Contains(seen, "Latin") {
				seen = append(seen, "Latin")
			}
			continue
		}
		name := scriptOf(r)
		if name != "" && !slices.Contains(seen, name) {
			seen = append(seen, name)
		}
	}
	if len(seen) <= 1 {
		return nil
	}
	for _, allowed := range cjkScripts {
		if !slices.ContainsFunc(seen, func(n string) bool { return !slices.Contains(allowed, n) }) {
			return nil
		}
	}
	return withMsg(ErrInvalidEmail, fmt.Sprintf("email %s mixes scripts (%s); lookalike addresses are refused", what, strings.Join(seen, ", ")))
}

// scriptOf returns the Unicode script of r, "" for Common, Inherited and
// unknown.
func scriptOf(r rune) string {
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}
