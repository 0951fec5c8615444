package auth

import "strings"

// commonPasswords are among the most used passwords of public breach
// corpora that are at least MinPasswordLen bytes long. Registration and
// password changes refuse them (compared case-insensitively).
var commonPasswords = func() map[string]struct{} {
	m := make(map[string]struct{}, len(commonPasswordList))
	for _, p := range commonPasswordList {
		m[p] = struct{}{}
	}
	return m
}()

func isCommonPassword(pw string) bool {
	if len(pw) > 32 {
		return false
	}
	_, ok := commonPasswords[strings.ToLower(pw)]
	return ok
}

var commonPasswordList = []string{
	"12345678", "123456789", "1234567890", "12345678910", "123123123", "11111111",
	"111111111", "1111111111", "00000000", "000000000", "0000000000", "88888888",
	"99999999", "12341234", "987654321", "9876543210", "87654321", "11223344",
	"12344321", "123456123", "147258369", "123654789", "159753456", "741852963",
	"password", "password1", "password12", "password123", "password1234", "passw0rd",
	"p@ssw0rd", "p@ssword", "pa55word", "password!", "password01", "mypassword",
	"qwertyuiop", "qwerty123", "qwerty1234", "qwertyui", "qwertyu1", "1q2w3e4r",
	"1q2w3e4r5t", "1qaz2wsx", "zaq12wsx", "zaq1zaq1", "q1w2e3r4", "q1w2e3r4t5",
	"asdfghjkl", "asdfasdf", "asdf1234", "zxcvbnm1", "zxcvbnm123", "1234qwer",
	"qazwsxedc", "iloveyou", "iloveyou1", "iloveyou2", "princess", "princess1",
	"sunshine", "sunshine1", "football", "football1", "baseball", "basketball",
	"superman", "batman123", "starwars", "whatever", "trustno1", "letmein1",
	"letmein123", "welcome1", "welcome123", "welcome!", "changeme", "changeme1",
	"computer", "internet", "michelle", "jennifer", "jordan23", "charlie1",
	"master123", "dragon123", "monkey123", "shadow123", "abc12345", "abcd1234",
	"abcdefgh", "abcdefg1", "aa123456", "a1234567", "a12345678", "1234abcd",
	"admin123", "administrator", "adminadmin", "root1234", "test1234", "testtest",
	"guest123", "secret123", "default1", "loveyou1", "lovely12", "freedom1",
	"cheese123", "chocolate", "butterfly", "pokemon1", "samsung1", "liverpool",
	"chelsea1", "arsenal1", "spiderman", "mustang1", "computer1", "summer2024",
	"summer2025", "winter2024", "winter2025", "spring2025", "autumn2025",
	"qwerty12345", "1234567a", "123456789a", "12345qwert", "123qweasd",
	"123qweasdzxc", "qweasdzxc", "qwe123qwe", "asd123asd", "zxc123zxc", "aaaaaaaa",
	"azertyuiop", "azerty123", "11112222", "12121212", "13131313", "22222222",
	"55555555", "66666666", "77777777", "12312312", "31415926", "letmeinplease",
}
