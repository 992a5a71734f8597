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
	"reflect"
	"strings"
	"sync"
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
	// One pass over the tokens checks the keys and finds the value's end;
	// encoding/json then decodes it.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walk(dec, reflect.TypeOf(v), "", o); err != nil {
		return err
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("%w: text after the JSON value", ErrInvalid)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if !o.AllowUnknown {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// walk reads one JSON value from dec alongside the Go type t: every
// object's keys are unique and, where the type is a struct, name its fields
// exactly.
func walk(dec *json.Decoder, t reflect.Type, path string, o Options) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)) {
		t = nil // decodes itself: only repeated keys are checked
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i), o); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ]
		return err
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
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			key := kt.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			if seen[key] {
				return fmt.Errorf("%w: key %q is given twice", ErrInvalid, at)
			}
			seen[key] = true
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
		_, err = dec.Token() // }
		return err
	}
	return nil
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
