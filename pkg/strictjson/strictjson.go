// Package strictjson decodes JSON that people and other systems send mkt
// (API bodies, events, import lines, stored filters) strictly, where
// encoding/json is lenient: one value and nothing after it, object keys
// matched to field names exactly (encoding/json also takes "Member_ID" for
// "member_id"), and no key given twice (encoding/json keeps the last).
// Unknown keys are refused unless the caller allows them.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrInvalid is wrapped by every error of Decode.
var ErrInvalid = errors.New("invalid JSON")

// Options tunes Decode.
type Options struct {
	// AllowUnknown accepts keys that name no field (an event may carry more
	// than its contract); they are still checked for case and repeats.
	AllowUnknown bool
}

// Decode decodes data into v (a pointer) strictly.
func Decode(data []byte, v any, o Options) error {
	// One pass over the tokens (jsontext, the tokenizer of encoding/json/v2:
	// it also refuses repeated keys and text after the value, and reads
	// tokens without allocating) checks the keys; encoding/json then decodes.
	tk := tokenizers.Get().(*tokenizer)
	defer tokenizers.Put(tk)
	tk.r.Reset(data)
	tk.dec.Reset(&tk.r)
	if err := walk(&tk.dec, reflect.TypeOf(v), "", o); err != nil {
		return err
	}
	if _, err := tk.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: text after the JSON value", ErrInvalid)
	}
	if o.AllowUnknown {
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// tokenizer is a reusable token reader (its buffers are kept between
// calls).
type tokenizer struct {
	r   bytes.Reader
	dec jsontext.Decoder
}

var tokenizers = sync.Pool{New: func() any { return new(tokenizer) }}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// walk reads one JSON value from dec alongside the Go type t: every
// object's keys are unique and, where the type is a struct, name its fields
// exactly.
func walk(dec *jsontext.Decoder, t reflect.Type, path string, o Options) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return tokenError(err, path)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := tok.Kind()
	if kind != '[' && kind != '{' {
		return nil // a scalar
	}
	if t != nil && decodesItself(t) {
		t = nil // only repeated keys are checked
	}
	switch kind {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i), o); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil { // ]
			return tokenError(err, path)
		}
		return nil
	case '{':
		isStruct := t != nil && t.Kind() == reflect.Struct
		var fields map[string]reflect.Type
		if isStruct {
			fields = fieldsOf(t)
		}
		var valueType reflect.Type
		if t != nil && t.Kind() == reflect.Map {
			valueType = t.Elem()
		}
		for dec.PeekKind() != '}' {
			kt, err := dec.ReadToken()
			if err != nil {
				return tokenError(err, path)
			}
			key := kt.String()
			at := key
			if path != "" {
				at = path + "." + key
			}
			next := valueType
			if isStruct {
				ft, exact := fields[key]
				if !exact {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return fmt.Errorf("%w: key %q: keys are case-sensitive (want %q)", ErrInvalid, at, name)
						}
					}
					if !o.AllowUnknown {
						return fmt.Errorf("%w: unknown field %q", ErrInvalid, at)
					}
				}
				next = ft
			}
			if err := walk(dec, next, at, o); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil { // }
			return tokenError(err, path)
		}
		return nil
	}
	return nil
}

// selfDecoding caches decodesItself by type.
var selfDecoding sync.Map // reflect.Type → bool

// decodesItself reports whether t (or *t) implements json.Unmarshaler.
func decodesItself(t reflect.Type) bool {
	if v, ok := selfDecoding.Load(t); ok {
		return v.(bool)
	}
	yes := t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)
	selfDecoding.Store(t, yes)
	return yes
}

// tokenError words the tokenizer's errors; a repeated key is named as
// "key \"a.b\" is given twice".
func tokenError(err error, path string) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		key := strings.TrimPrefix(string(se.JSONPointer), "/")
		key = strings.ReplaceAll(strings.ReplaceAll(key, "/", "."), "~1", "/")
		key = strings.ReplaceAll(key, "~0", "~")
		return fmt.Errorf("%w: key %q is given twice", ErrInvalid, key)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// fieldCache holds fieldsOf's maps by type (they never change).
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf maps a struct type's JSON field names to their types, once per
// type.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	collect(t, m)
	fieldCache.Store(t, m)
	return m
}

// collect maps a struct's JSON field names to their types, through embedded
// structs as encoding/json does.
func collect(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collect(ft, into)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}
