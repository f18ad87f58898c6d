package documents

import (
	"time"
)

// Region prefixes of residence permits: Hong Kong, Macao, Taiwan.
const (
	prefixHongKong = "810000"
	prefixMacao    = "820000"
	prefixTaiwan   = "830000"
)

// gbCheckChars maps the weighted sum mod 11 to the check character.
const gbCheckChars = "10X98765432"

// minBirthYear is the earliest year accepted in an embedded birth date.
const minBirthYear = 1900

// chinaOffset is China Standard Time, UTC+8, in which "today" is measured.
const chinaOffset = 8 * time.Hour

// checkGB11643 checks an 18-character residence permit or mainland ID number
// (GB 11643 layout: 6-digit region, 8-digit birth date, 3-digit sequence,
// ISO 7064 MOD 11-2 check character) and returns its birth date.
func checkGB11643(t Type, s string, now time.Time) (string, *Error) {
	if len(s) != 18 {
		return "", formatError("want 18 characters")
	}
	if !allDigits(s[:17]) || !(isDigit(s[17]) || s[17] == 'X') {
		return "", formatError("want 17 digits and a check character 0-9 or X")
	}

	rp := isResidencePermitPrefix(s[:6])
	switch {
	case t == ResidencePermit && !rp:
		return "", &Error{Reason: ReasonPrefix,
			Detail: "want the Hong Kong, Macao or Taiwan region prefix"}
	case t == MainlandID && rp:
		return "", &Error{Reason: ReasonPrefix,
			Detail: "Hong Kong, Macao and Taiwan region prefixes belong to residence_permit"}
	case t == MainlandID && !IsProvince(s[:2]):
		return "", &Error{Reason: ReasonPrefix,
			Detail: "want the first two digits of a province-level division of GB/T 2260"}
	}

	birth, ok := birthDate(s[6:14], now)
	if !ok {
		return "", &Error{Reason: ReasonBirthDate,
			Detail: "want a real date YYYYMMDD from 1900 up to today"}
	}

	// GB 11643 weights of the first 17 characters: 2^(17-i) mod 11.
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	if s[17] != gbCheckChars[sum%11] {
		return "", &Error{Reason: ReasonCheckDigit,
			Detail: "ISO 7064 MOD 11-2 check character does not match"}
	}
	return birth, nil
}

// provinces are the two-digit codes of the 34 province-level divisions of
// GB/T 2260: 23 provinces, 5 autonomous regions, 4 municipalities and the
// Hong Kong and Macao special administrative regions (Taiwan is 71).
var provinces = [...]string{
	"11", "12", "13", "14", "15", // Beijing, Tianjin, Hebei, Shanxi, Inner Mongolia
	"21", "22", "23", // Liaoning, Jilin, Heilongjiang
	"31", "32", "33", "34", "35", "36", "37", // Shanghai, Jiangsu, Zhejiang, Anhui, Fujian, Jiangxi, Shandong
	"41", "42", "43", "44", "45", "46", // Henan, Hubei, Hunan, Guangdong, Guangxi, Hainan
	"50", "51", "52", "53", "54", // Chongqing, Sichuan, Guizhou, Yunnan, Tibet
	"61", "62", "63", "64", "65", // Shaanxi, Gansu, Qinghai, Ningxia, Xinjiang
	"71",       // Taiwan
	"81", "82", // Hong Kong, Macao
}

// Provinces returns the two-digit codes of the 34 province-level divisions
// of GB/T 2260, ascending (a new slice).
func Provinces() []string { return append([]string(nil), provinces[:]...) }

// IsProvince reports whether code is the two-digit code of a province-level
// division of GB/T 2260.
func IsProvince(code string) bool {
	for _, p := range provinces {
		if p == code {
			return true
		}
	}
	return false
}

func isResidencePermitPrefix(p string) bool {
	return p == prefixHongKong || p == prefixMacao || p == prefixTaiwan
}

// birthDate parses 8 digits YYYYMMDD, checks it is a calendar date no earlier
// than minBirthYear and not after today in China, and returns it as
// "YYYY-MM-DD".
func birthDate(ymd string, now time.Time) (string, bool) {
	y := atoi(ymd[:4])
	m := atoi(ymd[4:6])
	d := atoi(ymd[6:8])
	if y < minBirthYear || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return "", false
	}
	ty, tm, td := now.UTC().Add(chinaOffset).Date()
	if y*10000+m*100+d > ty*10000+int(tm)*100+td {
		return "", false
	}
	return ymd[:4] + "-" + ymd[4:6] + "-" + ymd[6:8], true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// checkMainlandTravelPermit checks H or M followed by 8 digits.
func checkMainlandTravelPermit(s string) *Error {
	// Normalize has already dropped the issue count after H or M; a letter
	// and 10 digits here has the wrong letter.
	if (len(s) == 9 || len(s) == 11) && isUpper(s[0]) && allDigits(s[1:]) {
		if s[0] != 'H' && s[0] != 'M' {
			return &Error{Reason: ReasonPrefix, Detail: "want prefix H or M"}
		}
		if len(s) == 9 {
			return nil
		}
	}
	return formatError("want H or M and 8 digits, optionally 2 more for the issue count")
}

// checkTaiwanTravelPermit checks 8 digits.
func checkTaiwanTravelPermit(s string) *Error {
	if len(s) == 8 && allDigits(s) {
		return nil
	}
	return formatError("want 8 digits, optionally 2 more for the issue count")
}

// checkHKID checks 1-2 letters, 6 digits and a check character 0-9 or A.
//
// The check: a single letter is padded with a leading space (value 36);
// letters count A=10..Z=35; the 8 positions are weighted 9..2; the check
// value is (11 - sum mod 11) mod 11, written 'A' for 10.
func checkHKID(s string) *Error {
	letters := len(s) - 7
	if letters < 1 || letters > 2 {
		return formatError("want 1-2 letters, 6 digits and a check character")
	}
	for i := 0; i < letters; i++ {
		if !isUpper(s[i]) {
			return formatError("want 1-2 letters, 6 digits and a check character")
		}
	}
	c := s[len(s)-1]
	if !allDigits(s[letters:len(s)-1]) || !(isDigit(c) || c == 'A') {
		return formatError("want 1-2 letters, 6 digits and a check character 0-9 or A")
	}

	sum := 0
	if letters == 1 {
		sum = 36 * 9
	}
	w := 7 + letters // weight of the first character present
	for i := 0; i < len(s)-1; i++ {
		v := int(s[i] - '0')
		if i < letters {
			v = int(s[i]-'A') + 10
		}
		sum += v * w
		w--
	}
	if c != "0123456789A"[(11-sum%11)%11] {
		return &Error{Reason: ReasonCheckDigit, Detail: "mod-11 check character does not match"}
	}
	return nil
}

// checkMacaoID checks 8 digits starting with 1, 5 or 7.
//
// The last digit is a check digit, but no check algorithm is published, so
// any digit is accepted there.
func checkMacaoID(s string) *Error {
	if len(s) != 8 || !allDigits(s) {
		return formatError("want 8 digits")
	}
	if s[0] != '1' && s[0] != '5' && s[0] != '7' {
		return &Error{Reason: ReasonPrefix, Detail: "want first digit 1, 5 or 7"}
	}
	return nil
}

// checkPassport checks 5-20 letters and digits.
func checkPassport(s string) *Error {
	if len(s) < 5 || len(s) > 20 {
		return formatError("want 5-20 letters and digits")
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && !isUpper(s[i]) {
			return formatError("want letters A-Z and digits only")
		}
	}
	return nil
}

func formatError(detail string) *Error {
	return &Error{Reason: ReasonFormat, Detail: detail}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a string of digits; the caller has checked them.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
