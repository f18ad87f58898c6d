package producers

import "time"

// parseOccurredAt parses an RFC 3339 §5.6 date-time:
//
//	YYYY-MM-DD "T" hh:mm:ss [ "." 1*DIGIT ] ( "Z" / ("+" / "-") hh:mm )
//
// with T and Z in either case, month 01-12, the day within its month, year
// 0001-9999, hour 00-23, minute 00-59, second 00-59, and 60 only where a leap
// second can be (23:59:60 UTC on the last day of a month). A fraction beyond
// microseconds is truncated to the microsecond; a leap second becomes the
// last microsecond of the minute it ends (23:59:59.999999 UTC), since Go time
// has no second 60. It reports false for anything else.
func parseOccurredAt(s string) (time.Time, bool) {
	if len(s) < 20 {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	i := 19
	micros := 0
	if s[i] == '.' {
		i++
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n < 6 {
				micros = micros*10 + int(s[i]-'0')
			}
			n++
			i++
		}
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 6; n++ {
			micros *= 10
		}
	}
	var loc *time.Location
	switch rest := s[i:]; {
	case rest == "Z" || rest == "z":
		loc = time.UTC
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := num(i+1, 2)
		om, okm := num(i+4, 2)
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off := oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, false
	}
	leap := sec == 60
	if leap {
		sec = 59
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micros*1000, loc)
	if leap {
		u := t.UTC()
		if u.Hour() != 23 || u.Minute() != 59 || u.Day() != daysIn(u.Year(), u.Month()) {
			return time.Time{}, false
		}
		t = time.Date(year, time.Month(month), day, hour, minute, 59, 999999000, loc)
	}
	return t, true
}

// daysIn is the number of days of a month in the proleptic Gregorian calendar.
func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
