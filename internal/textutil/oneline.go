// Package textutil holds Shoal's one way to fold a message onto one line.
package textutil

import "strings"

// OneLine folds s onto a single line for error messages and tables: it
// trims surrounding space, and if s still spans lines, it replaces every
// run of white space (line breaks included) with one space. A message
// without line breaks is returned trimmed and otherwise unchanged.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
