package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/idlink/idlink/consumers/identity"
)

func cmdWhy(ctx context.Context, a *app, args []string) int {
	fs := a.flags("why", "--doc-type T --number N [--to-doc-type T2 --to-number N2] [--json] | --person-id ID [--json]")
	docType := fs.String("doc-type", "", "document type: "+typeNames())
	number := fs.String("number", "", "document number")
	toType := fs.String("to-doc-type", "", "with --to-number: explain whether this second document is the same person")
	toNumber := fs.String("to-number", "", "the second document's number")
	personID := fs.String("person-id", "", "explain a person by id instead (merged-away ids forward to the survivor)")
	asJSON := fs.Bool("json", false, "print the explanation as one JSON document")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	pair := *toType != "" || *toNumber != ""
	switch {
	case *personID != "" && (*docType != "" || *number != "" || pair):
		fmt.Fprintln(a.stderr, "idlink why: pass either --person-id or --doc-type and --number, not both")
		return 2
	case *personID == "" && (*docType == "" || *number == ""):
		fmt.Fprintln(a.stderr, "idlink why: pass --doc-type and --number (e.g. --doc-type residence_permit --number 820000199002110013), or --person-id")
		return 2
	case pair && (*toType == "" || *toNumber == ""):
		fmt.Fprintln(a.stderr, "idlink why: pass both --to-doc-type and --to-number to compare two documents")
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	var tokA, tokB string
	if *personID == "" {
		var code int
		if tokA, code = a.documentToken(cfg, "why", "", *docType, *number); code != 0 {
			return code
		}
		if pair {
			if tokB, code = a.documentToken(cfg, "why", "to-", *toType, *toNumber); code != 0 {
				return code
			}
		}
	}
	store, closeStore, err := identityStore(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer closeStore()
	var out any
	switch {
	case pair:
		p, err := identity.ExplainPair(ctx, store, tokA, tokB)
		if err != nil {
			return a.fail(err)
		}
		if p == nil {
			fmt.Fprintln(a.stderr, "idlink why: unknown: no person holds one of the documents (has `idlink run` processed its events?)")
			return 3
		}
		out = p
	case *personID != "":
		x, err := identity.ExplainPerson(ctx, store, *personID)
		if err != nil {
			return a.fail(err)
		}
		if x == nil {
			fmt.Fprintf(a.stderr, "idlink why: unknown person %q: check the id (`idlink lookup` prints it)\n", *personID)
			return 3
		}
		out = x
	default:
		x, err := identity.ExplainDocument(ctx, store, tokA)
		if err != nil {
			return a.fail(err)
		}
		if x == nil {
			fmt.Fprintln(a.stderr, "idlink why: unknown: no person holds that document (has `idlink run` processed its events?)")
			return 3
		}
		out = x
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
			return a.fail(err)
		}
		return 0
	}
	switch v := out.(type) {
	case *identity.PairExplanation:
		printPair(a.stdout, v)
	case *identity.Explanation:
		printExplanation(a.stdout, v)
	}
	return 0
}

func printExplanation(w io.Writer, x *identity.Explanation) {
	fmt.Fprintf(w, "person_id: %s\ndocuments:\n", x.PersonID)
	for _, d := range x.Documents {
		fmt.Fprintf(w, "  %-24s %s\n", d.Type, d.Token)
	}
	fmt.Fprintf(w, "events (%d, in the order they apply):\n", len(x.Events))
	for _, s := range x.Events {
		printStep(w, s)
	}
}

func printPair(w io.Writer, p *identity.PairExplanation) {
	fmt.Fprintf(w, "same_person: %v\npersons:     %s, %s\n", p.SamePerson, p.PersonIDs[0], p.PersonIDs[1])
	if p.SamePerson {
		fmt.Fprintf(w, "chain (%d events):\n", len(p.Chain))
		for _, s := range p.Chain {
			printStep(w, s)
		}
		return
	}
	fmt.Fprintf(w, "apart:       %s\n", strings.ReplaceAll(p.Apart, "_", " "))
	for _, s := range p.Blocking {
		printStep(w, s)
	}
}

func printStep(w io.Writer, s identity.Step) {
	what := s.Did
	switch s.Did {
	case identity.DidMerged:
		ids := make([]string, len(s.Merged))
		for i, m := range s.Merged {
			ids[i] = m.PersonID
		}
		what += " " + strings.Join(ids, ", ")
	case identity.DidHeld:
		what += " (" + s.Reason + "; persons " + strings.Join(s.PersonIDs, ", ") + ")"
	case identity.DidWithdrawn:
		what += " by " + strings.Join(s.WithdrawnBy, ", ")
	case identity.DidRetract:
		what += " of " + s.Retracts
	}
	docs := make([]string, len(s.Documents))
	for i, d := range s.Documents {
		docs[i] = d.Type
	}
	fmt.Fprintf(w, "  %s  %-24s %-32s %-8s %s  [%s]\n", s.OccurredAt, s.EventID, s.Type, s.Agency, what, strings.Join(docs, " "))
}
