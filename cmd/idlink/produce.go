package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
)

func cmdProduce(ctx context.Context, a *app, args []string) int {
	fs := a.flags("produce", "--file F.jsonl|- [--json]")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(a.stderr, "\n%s", eventtypes.Text())
	}
	file := fs.String("file", "", "JSON Lines file of events, or - for stdin (required)")
	asJSON := fs.Bool("json", false, "print the result as one JSON document")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(a.stderr, "idlink produce: --file is required: pass --file events.jsonl, or --file - to read stdin")
		return 2
	}
	var in io.Reader = a.stdin
	source := "stdin"
	if *file != "-" {
		f, err := os.Open(*file)
		if err == nil {
			if st, serr := f.Stat(); serr == nil && st.IsDir() {
				f.Close()
				err = fmt.Errorf("%s is a directory", *file)
			}
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "idlink produce: %v: pass an existing JSON Lines file with --file\n", err)
			return 2
		}
		defer f.Close()
		in, source = f, *file
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	res, err := produce(ctx, a, cfg, in, source)
	if err != nil {
		if errors.Is(err, pipeline.ErrKafkaUnreachable) {
			return a.fail(err)
		}
		return a.fail(fmt.Errorf("produce: %w", err))
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(res); err != nil {
			return a.fail(err)
		}
		return 0
	}
	fmt.Fprintf(a.stdout, "lines: %d\naccepted: %d\nrepeats: %d (repeated event_ids, published once)\nrejected: %d\n", res.Lines, res.Accepted, res.Repeats, res.Rejected)
	reasons := make([]string, 0, len(res.Reasons))
	for r := range res.Reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(a.stdout, "  %-28s %d\n", r, res.Reasons[r])
	}
	return 0
}

// produce publishes one input stream, reporting each bad line on stderr.
func produce(ctx context.Context, a *app, cfg *pipeline.Config, in io.Reader, source string) (*producers.Result, error) {
	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, err
	}
	p, err := producers.New(ctx, cfg, codec, producers.Options{
		OnReject: func(e producers.LineError) {
			fmt.Fprintf(a.stderr, "%s:%d: rejected: %s\n", source, e.Line, e.Error())
		},
	})
	if err != nil {
		return nil, err
	}
	res, err := p.ProduceFile(ctx, in, source)
	if cerr := p.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("flushing to Kafka: %w", cerr)
	}
	return res, err
}
