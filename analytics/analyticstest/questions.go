package analyticstest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Question is one analyst question of analytics/README.md: its number, its
// heading and its SQL.
type Question struct {
	Number int
	Title  string
	SQL    string
}

var (
	questionHeading = regexp.MustCompile(`(?m)^### (\d+)\. (.+)$`)
	sqlBlock        = regexp.MustCompile("(?s)```sql\n(.*?)```")
)

// Questions returns the questions of a README: every heading "### N. title"
// and the first ```sql block after it, before the next heading. A numbered
// heading without one is an error, and so are numbers out of order.
func Questions(readme string) ([]Question, error) {
	heads := questionHeading.FindAllStringSubmatchIndex(readme, -1)
	var out []Question
	for i, h := range heads {
		end := len(readme)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		if next := strings.Index(readme[h[1]:end], "\n#"); next >= 0 {
			end = h[1] + next
		}
		n, _ := strconv.Atoi(readme[h[2]:h[3]])
		title := readme[h[4]:h[5]]
		m := sqlBlock.FindStringSubmatch(readme[h[1]:end])
		if m == nil {
			return nil, fmt.Errorf("question %d (%q) has no ```sql block", n, title)
		}
		if n != len(out)+1 {
			return nil, fmt.Errorf("question %q is numbered %d, want %d", title, n, len(out)+1)
		}
		out = append(out, Question{Number: n, Title: title, SQL: strings.TrimSpace(m[1])})
	}
	return out, nil
}
