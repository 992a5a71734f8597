// Package textlimit cuts text to a limit without ever splitting a UTF-8
// sequence: to a number of bytes (a column or a field sized in bytes) or of
// characters (a column sized in characters, a terminal cell, an SMS). The
// Marked variants end a cut text with Marker, so that a reader sees that
// something is missing; the plain ones only make the text fit.
package textlimit

import "unicode/utf8"

// Marker ends a text that a Marked function cut.
const Marker = "…"

// Bytes returns s cut to at most n bytes, on a character boundary.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// BytesMarked returns s cut to at most n bytes, Marker included when cut.
func BytesMarked(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(Marker) {
		return Bytes(s, n)
	}
	return Bytes(s, n-len(Marker)) + Marker
}

// Runes returns s cut to at most n characters.
func Runes(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

// RunesMarked returns s cut to at most n characters, the last of them
// Marker when cut.
func RunesMarked(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return Runes(s, n-1) + Marker
}
