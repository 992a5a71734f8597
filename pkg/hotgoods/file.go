package hotgoods

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"mkt/pkg/audience"
	"mkt/pkg/money"
	"mkt/pkg/provider"
	"mkt/pkg/strictjson"
)

// Format is an import file's format.
type Format string

// Import formats (docs/HOTGOODS.md shows both).
const (
	FormatAuto  Format = "auto" // JSON Lines when the first non-blank byte is '{', else CSV
	FormatJSONL Format = "jsonl"
	FormatCSV   Format = "csv"
)

// MaxFileBytes bounds an import file.
const MaxFileBytes = 64 << 20

// LineError is one problem of an import file: its line (1-based; for CSV the
// record's first line), the field and why.
type LineError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// FileError lists every problem of a file; nothing of it is stored.
type FileError struct {
	Problems []LineError
}

func (e *FileError) Error() string {
	const show = 50
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s), nothing imported:", len(e.Problems))
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-show)
			break
		}
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

// Unwrap makes a FileError an ErrInvalid.
func (e *FileError) Unwrap() error { return ErrInvalid }

// ParsedRow is a valid row and the line it came from.
type ParsedRow struct {
	Line int
	Input
}

// Parse reads an import file. It returns every valid row, or a *FileError
// naming every bad line (then nothing may be stored).
func Parse(r io.Reader, f Format) ([]ParsedRow, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hotgoods: read the file: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, &FileError{Problems: []LineError{{Line: 0, Reason: fmt.Sprintf("the file is larger than %d MiB", MaxFileBytes>>20)}}}
	}
	if f == "" || f == FormatAuto {
		f = FormatCSV
		if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			f = FormatJSONL
		}
	}
	var rows []ParsedRow
	var problems []LineError
	switch f {
	case FormatJSONL:
		rows, problems = parseJSONL(data)
	case FormatCSV:
		rows, problems = parseCSV(data)
	default:
		return nil, fmt.Errorf("%w: format %q: want auto, jsonl or csv", ErrInvalid, f)
	}
	// One row per segment and goods kind a day.
	first := map[string]int{}
	for _, r := range rows {
		k := r.Segment + "\x00" + string(r.GoodsKind)
		if at, dup := first[k]; dup {
			problems = append(problems, LineError{Line: r.Line, Field: "segment", Reason: fmt.Sprintf(
				"%q with goods kind %s is already on line %d", r.Segment, r.GoodsKind, at)})
			continue
		}
		first[k] = r.Line
	}
	if len(rows)+len(problems) == 0 {
		problems = append(problems, LineError{Reason: "the file holds no rows"})
	}
	if len(rows) > MaxRowsPerDay {
		problems = append(problems, LineError{Reason: fmt.Sprintf("%d rows: at most %d a day", len(rows), MaxRowsPerDay)})
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b LineError) int { return a.Line - b.Line })
		return nil, &FileError{Problems: problems}
	}
	return rows, nil
}

// jsonRow is a JSON Lines row as written.
type jsonRow struct {
	Segment   *string         `json:"segment"`
	Filter    json.RawMessage `json:"filter"`
	GoodsKind *string         `json:"goods_kind"`
	Goods     []jsonItem      `json:"goods"`
	Template  *string         `json:"template"`
	Channels  []string        `json:"channels"`
	Priority  *json.Number    `json:"priority"`
}

type jsonItem struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	Price json.Number `json:"price"`
	URL   string      `json:"url,omitempty"`
}

func parseJSONL(data []byte) ([]ParsedRow, []LineError) {
	var rows []ParsedRow
	var problems []LineError
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxFileBytes)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(text) == 0 {
			continue
		}
		var jr jsonRow
		if err := strictjson.Decode(text, &jr, strictjson.Options{}); err != nil {
			problems = append(problems, LineError{Line: line, Reason: "not a JSON object of the documented fields: " + err.Error()})
			continue
		}
		var in Input
		var bad []LineError
		add := func(field, reason string) { bad = append(bad, LineError{Line: line, Field: field, Reason: reason}) }
		if jr.Segment == nil {
			add("segment", "is required")
		} else {
			in.Segment = *jr.Segment
		}
		if len(jr.Filter) > 0 && string(jr.Filter) != "null" {
			f, err := decodeFilter(jr.Filter)
			if err != nil {
				add("filter", err.Error())
			}
			in.Filter = f
		}
		if jr.GoodsKind != nil {
			in.GoodsKind = GoodsKind(*jr.GoodsKind)
		}
		for i, it := range jr.Goods {
			cents, err := money.Parse(it.Price.String())
			if err != nil || it.Price == "" {
				add(fmt.Sprintf("goods[%d].price", i), fmt.Sprintf("%q: want a decimal like 19.90", it.Price))
			}
			in.Goods = append(in.Goods, Item{ID: it.ID, Name: strings.TrimSpace(it.Name), PriceCents: cents, URL: it.URL})
		}
		if jr.Template != nil {
			in.Template = *jr.Template
		}
		for _, c := range jr.Channels {
			ch, err := provider.ParseChannel(c)
			if err != nil {
				add("channels", fmt.Sprintf("%q: want sms, email, app or inbox", c))
				continue
			}
			in.Channels = append(in.Channels, ch)
		}
		if jr.Priority != nil {
			p, err := strconv.Atoi(jr.Priority.String())
			if err != nil {
				add("priority", fmt.Sprintf("%s: want an integer 0..%d", jr.Priority, MaxPriority))
			}
			in.Priority = p
		}
		rows, problems = collect(rows, problems, line, in, bad)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, LineError{Line: line + 1, Reason: err.Error()})
	}
	return rows, problems
}

func decodeFilter(raw []byte) (audience.Segment, error) {
	var f audience.Segment
	if err := strictjson.Decode(raw, &f, strictjson.Options{}); err != nil {
		return f, fmt.Errorf("want an object of levels, min_active_days, max_active_days, tags_all, tags_any: %w", err)
	}
	return f, nil
}

// collect validates in and adds it, or its problems (with those found while
// decoding), to the results.
func collect(rows []ParsedRow, problems []LineError, line int, in Input, bad []LineError) ([]ParsedRow, []LineError) {
	decoded := map[string]bool{}
	for _, b := range bad {
		decoded[b.Field] = true
	}
	for _, p := range in.problems() {
		field, reason, _ := strings.Cut(p, ": ")
		if decoded[field] {
			continue // already said while decoding
		}
		bad = append(bad, LineError{Line: line, Field: field, Reason: reason})
	}
	if len(bad) > 0 {
		return rows, append(problems, bad...)
	}
	in.Filter = in.Filter.Normalize()
	return append(rows, ParsedRow{Line: line, Input: in}), problems
}

// CSVHeader is the CSV import's header, in order.
var CSVHeader = []string{"segment", "goods_kind", "priority", "channels", "template",
	"levels", "min_active_days", "max_active_days", "tags_all", "tags_any", "goods"}

func parseCSV(data []byte) ([]ParsedRow, []LineError) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var rows []ParsedRow
	var problems []LineError
	header, err := cr.Read()
	if err != nil {
		return nil, []LineError{{Line: 1, Reason: "no CSV header: " + err.Error()}}
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if !slices.Equal(header, CSVHeader) {
		return nil, []LineError{{Line: 1, Reason: "the header must be exactly: " + strings.Join(CSVHeader, ",")}}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			problems = append(problems, LineError{Line: line, Reason: "not CSV: " + err.Error()})
			if pe == nil || errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
				break // the reader cannot find the next record reliably
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(CSVHeader) {
			problems = append(problems, LineError{Line: line, Reason: fmt.Sprintf("%d fields, want %d", len(rec), len(CSVHeader))})
			continue
		}
		col := func(name string) string { return rec[slices.Index(CSVHeader, name)] }
		var in Input
		var bad []LineError
		add := func(field, reason string) { bad = append(bad, LineError{Line: line, Field: field, Reason: reason}) }
		in.Segment = col("segment")
		in.GoodsKind = GoodsKind(strings.TrimSpace(col("goods_kind")))
		in.Template = col("template")
		if p := strings.TrimSpace(col("priority")); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				add("priority", fmt.Sprintf("%q: want an integer 0..%d", p, MaxPriority))
			}
			in.Priority = n
		}
		for _, c := range splitList(col("channels")) {
			ch, err := provider.ParseChannel(c)
			if err != nil {
				add("channels", fmt.Sprintf("%q: want sms, email, app or inbox", c))
				continue
			}
			in.Channels = append(in.Channels, ch)
		}
		for _, l := range splitList(col("levels")) {
			n, err := strconv.Atoi(l)
			if err != nil {
				add("levels", fmt.Sprintf("%q: want integers 1..5 separated by ;", l))
				continue
			}
			in.Filter.Levels = append(in.Filter.Levels, n)
		}
		for _, f := range []struct {
			name string
			to   *int
		}{{"min_active_days", &in.Filter.MinActiveDays}, {"max_active_days", &in.Filter.MaxActiveDays}} {
			if v := strings.TrimSpace(col(f.name)); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					add(f.name, fmt.Sprintf("%q: want an integer 0..30", v))
				}
				*f.to = n
			}
		}
		in.Filter.TagsAll = splitList(col("tags_all"))
		in.Filter.TagsAny = splitList(col("tags_any"))
		for i, item := range splitList(col("goods")) {
			parts := strings.Split(item, "|")
			field := fmt.Sprintf("goods[%d]", i)
			if len(parts) < 3 || len(parts) > 4 {
				add(field, fmt.Sprintf("%q: want id|name|price or id|name|price|url", item))
				continue
			}
			cents, err := money.Parse(parts[2])
			if err != nil {
				add(field+".price", fmt.Sprintf("%q: want a decimal like 19.90", parts[2]))
			}
			it := Item{ID: strings.TrimSpace(parts[0]), Name: strings.TrimSpace(parts[1]), PriceCents: cents}
			if len(parts) == 4 {
				it.URL = strings.TrimSpace(parts[3])
			}
			in.Goods = append(in.Goods, it)
		}
		rows, problems = collect(rows, problems, line, in, bad)
	}
	return rows, problems
}

// splitList splits a CSV cell's list on ";", dropping blanks.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ";") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
