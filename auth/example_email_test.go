package auth_test

import (
	"fmt"

	"appkernel/auth"
)

// Spellings of one address are one account; lookalikes are refused.
func ExampleCanonicalEmail() {
	for _, email := range []string{
		" Ada@Example.COM",
		"ａｄａ@example.com",           // fullwidth
		"ada@xn--bcher-kva.example", // IDNA
		"\u0430da@example.com",      // Cyrillic а
		"ada\u200b@example.com",     // zero-width space
	} {
		c, err := auth.CanonicalEmail(email)
		fmt.Printf("%q %v\n", c, err)
	}
	// Output:
	// "ada@example.com" <nil>
	// "ada@example.com" <nil>
	// "ada@bücher.example" <nil>
	// "" email local part mixes scripts (Cyrillic, Latin); lookalike addresses are refused
	// "" email contains an invisible, space, control or direction character (U+200B)
}
