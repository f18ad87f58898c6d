package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
)

func cmdLookup(ctx context.Context, a *app, args []string) int {
	fs := a.flags("lookup", "--doc-type T --number N [--json] | --person-id ID [--json]")
	docType := fs.String("doc-type", "", "document type: "+typeNames())
	number := fs.String("number", "", "document number (normalised like the producer does)")
	personID := fs.String("person-id", "", "look up a person by id instead (merged-away ids forward to the survivor)")
	asJSON := fs.Bool("json", false, "print the person as one JSON document")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *personID == "" && (*docType == "" || *number == "") {
		fmt.Fprintln(a.stderr, "idlink lookup: pass --doc-type and --number (e.g. --doc-type residence_permit --number 820000199002110013), or --person-id")
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	store, closeStore, err := identityStore(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer closeStore()
	var v *identity.PersonView
	if *personID != "" {
		v, err = identity.LookupPerson(ctx, store, *personID)
	} else {
		tok, code := a.documentToken(cfg, "lookup", "", *docType, *number)
		if code != 0 {
			return code
		}
		v, err = identity.LookupDocument(ctx, store, tok)
	}
	if err != nil {
		return a.fail(err)
	}
	if v == nil {
		fmt.Fprintln(a.stderr, "idlink lookup: unknown: no person holds that document (has `idlink run` processed its events?)")
		return 3
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(v); err != nil {
			return a.fail(err)
		}
		return 0
	}
	fmt.Fprintf(a.stdout, "person_id: %s\nevents:    %d\ndocuments:\n", v.PersonID, v.Events)
	for _, d := range v.Documents {
		fmt.Fprintf(a.stdout, "  %-24s %s %s\n", d.Type, d.Token, d.Status)
	}
	return 0
}

// documentToken validates a document given by flags --<prefix>doc-type and
// --<prefix>number and returns its token, or the exit code after saying
// what is wrong (2: bad flag or number, 1: no pseudonym key).
func (a *app) documentToken(cfg *pipeline.Config, cmd, prefix, docType, number string) (string, int) {
	t, ok := documents.ParseType(docType)
	if !ok {
		fmt.Fprintf(a.stderr, "idlink %s: unknown --%sdoc-type %q: use one of %s\n", cmd, prefix, docType, typeNames())
		return "", 2
	}
	valid, err := documents.Validate(t, number)
	if err != nil {
		fmt.Fprintf(a.stderr, "idlink %s: --%snumber is not a valid %s (%v): check the number\n", cmd, prefix, t, err)
		return "", 2
	}
	if err := cfg.RequireKey(); err != nil {
		return "", a.fail(err)
	}
	return producers.NewPseudonymizer(cfg.PseudonymKey).Token(t, valid.Number), 0
}

func typeNames() string {
	var s []string
	for _, t := range documents.Types() {
		s = append(s, string(t))
	}
	return joinQuoted(s)
}
