package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/documents"
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
		t, ok := documents.ParseType(*docType)
		if !ok {
			fmt.Fprintf(a.stderr, "idlink lookup: unknown --doc-type %q: use one of %s\n", *docType, typeNames())
			return 2
		}
		valid, verr := documents.Validate(t, *number)
		if verr != nil {
			fmt.Fprintf(a.stderr, "idlink lookup: --number is not a valid %s (%v): check the number\n", t, verr)
			return 2
		}
		if err := cfg.RequireKey(); err != nil {
			return a.fail(err)
		}
		tok := producers.NewPseudonymizer(cfg.PseudonymKey).Token(t, valid.Number)
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

func typeNames() string {
	var s []string
	for _, t := range documents.Types() {
		s = append(s, string(t))
	}
	return joinQuoted(s)
}
