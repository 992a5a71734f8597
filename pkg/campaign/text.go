package campaign

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Operator text. Names and templates come from people and files; they are
// stored, rendered into messages and printed on terminals, so they must be
// valid UTF-8 without control characters (a template may hold line breaks
// and tabs), and a template's braces must be placeholders: "{name}" with a
// name from the allowed list, nothing else. These checks serve campaigns,
// coupons and hot-goods rows alike.

// TextProblems says what is wrong with a name or other one-line text (or a
// multi-line one, which may hold \n and \t): invalid UTF-8, control
// characters.
func TextProblems(s string, multiline bool) []string {
	if !utf8.ValidString(s) {
		return []string{"is not valid UTF-8"}
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return []string{fmt.Sprintf("holds the control character %U", r)}
		}
	}
	return nil
}

// TemplateProblems says what is wrong with a message template whose
// placeholders may be the allowed names: its text (TextProblems), and every
// brace that is not a well-formed placeholder — "{{name}}", "{Name}",
// "{ name }", an unclosed "{name", a lone "}" — or a placeholder that is not
// allowed (for instance {percent} on a flat discount).
func TemplateProblems(tmpl string, allowed []string) []string {
	if p := TextProblems(tmpl, true); p != nil {
		return p
	}
	var out []string
	for i := 0; i < len(tmpl); i++ {
		switch tmpl[i] {
		case '}':
			out = append(out, fmt.Sprintf("a lone } at byte %d: braces only write placeholders such as {%s}", i, allowed[0]))
		case '{':
			end := strings.IndexByte(tmpl[i+1:], '}')
			if end < 0 {
				out = append(out, fmt.Sprintf("an unclosed { at byte %d", i))
				return out
			}
			name := tmpl[i+1 : i+1+end]
			switch {
			case strings.ContainsAny(name, "{"):
				out = append(out, fmt.Sprintf("nested braces at byte %d: write placeholders as {%s}", i, allowed[0]))
			case !isPlaceholderName(name):
				out = append(out, fmt.Sprintf("{%s} is not a placeholder: names are lower case, without spaces, e.g. {%s}", name, allowed[0]))
			case !slices.Contains(allowed, name):
				out = append(out, fmt.Sprintf("placeholder {%s} is unknown for this message (want one of {%s})", name, strings.Join(allowed, "}, {")))
			}
			i += end + 1
		}
	}
	return out
}

func isPlaceholderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Printable returns s safe to print on a terminal: control characters
// (escape sequences among them), line and paragraph separators and bytes
// that are not UTF-8 are written as Go escapes (\x1b, \u2028), the rest
// as is. Stored text is checked on the way in (TextProblems); this guards
// what was stored before the check, or by other writers.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
