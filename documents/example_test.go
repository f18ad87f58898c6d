package documents_test

import (
	"fmt"

	"github.com/idlink/idlink/documents"
)

// Validate normalises a number, checks its format and check character, and
// returns the birth date a residence permit embeds.
func ExampleValidate() {
	v, err := documents.Validate(documents.ResidencePermit, "820000 19900211 0013")
	fmt.Println(v.Number, v.BirthDate, err)

	_, err = documents.Validate(documents.ResidencePermit, "820000199002110010")
	fmt.Println(err)

	v, _ = documents.Validate(documents.MainlandTravelPermit, "h1234567801")
	fmt.Println(v.Number)
	// Output:
	// 820000199002110013 1990-02-11 <nil>
	// documents: residence_permit: bad_check_digit: ISO 7064 MOD 11-2 check character does not match
	// H12345678
}
