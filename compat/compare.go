package compat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DiffKind says how an item differs.
type DiffKind int

const (
	// Changed: the item exists on both sides with a different property.
	Changed DiffKind = iota
	// Missing: the item is wanted but the headers do not declare it.
	Missing
	// Unexpected: the headers declare an item that is not wanted.
	Unexpected
)

// Diff is one difference between two ABIs, named precisely enough to find
// the line to fix. Its String form reads like
//
//	IPCZ_RESULT_NOT_FOUND: value 5, want 6
//	struct IpczPortalStatus field num_remote_bytes: offset 40, want 48
//	IpczAPI member 5: QueryPortalStatus, want MergePortals
type Diff struct {
	Kind DiffKind
	// Subject names the item: a constant or function name, "struct X",
	// "struct X field f", "IpczAPI member 5", "MojoClose param 1 (handle)".
	Subject string
	// Property names what differs ("value", "offset", "type"), or is empty
	// when the subject itself differs (a table member's name).
	Property string
	// Got and Want describe the two sides. For a Missing item Got is empty;
	// for an Unexpected one Want is empty.
	Got, Want string
	// Note adds a hint, such as which part of a type differs.
	Note string
}

func (d Diff) String() string {
	switch d.Kind {
	case Missing:
		return d.Subject + ": missing, want " + d.Want
	case Unexpected:
		return d.Subject + ": unexpected, got " + d.Got
	}
	s := d.Subject + ": "
	if d.Property != "" {
		s += d.Property + " "
	}
	s += d.Got + ", want " + d.Want
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

// Compare returns every difference between the ABI the headers declare
// (got) and the reference (want), in a stable order: the reference's order
// first, then items only got has. Items are matched by name; struct fields
// and table members are also checked for position. Notes are ignored. An
// empty result means the headers match the reference exactly.
func Compare(want, got *ABI) []Diff {
	c := &comparison{}
	if want.Target != got.Target {
		c.changed("abi", "target", got.Target, want.Target)
	}
	c.constants(want.Constants, got.Constants)
	c.macros(want.Macros, got.Macros)
	c.typedefs(want.Typedefs, got.Typedefs)
	c.structs(want.Structs, got.Structs)
	c.tables(want.Tables, got.Tables)
	c.functions(want.Functions, got.Functions)
	return c.diffs
}

type comparison struct {
	diffs []Diff
}

func (c *comparison) changed(subject, property, got, want string) {
	c.diffs = append(c.diffs, Diff{Kind: Changed, Subject: subject, Property: property, Got: got, Want: want})
}

func (c *comparison) missing(subject, want string) {
	c.diffs = append(c.diffs, Diff{Kind: Missing, Subject: subject, Want: want})
}

func (c *comparison) unexpected(subject, got string) {
	c.diffs = append(c.diffs, Diff{Kind: Unexpected, Subject: subject, Got: got})
}

// check records a Changed diff when got and want differ.
func (c *comparison) check(subject, property, got, want string) {
	if got != want {
		c.changed(subject, property, got, want)
	}
}

func (c *comparison) checkInt(subject, property string, got, want int64) {
	c.check(subject, property, strconv.FormatInt(got, 10), strconv.FormatInt(want, 10))
}

// checkType compares two type spellings and explains a difference that is
// only in qualifiers, the kind most easily missed by eye.
func (c *comparison) checkType(subject, property, got, want string) {
	if got == want {
		return
	}
	d := Diff{Kind: Changed, Subject: subject, Property: property, Got: got, Want: want}
	if stripQualifier(got, "const") == stripQualifier(want, "const") {
		d.Note = "const-ness differs"
	} else if stripQualifier(got, "volatile") == stripQualifier(want, "volatile") {
		d.Note = "volatile-ness differs"
	}
	c.diffs = append(c.diffs, d)
}

// stripQualifier removes every whole-word occurrence of qualifier from a
// type spelling and normalizes the spaces left behind.
func stripQualifier(spelling, qualifier string) string {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(qualifier) + `\b`)
	s := strings.Join(strings.Fields(re.ReplaceAllString(spelling, "")), " ")
	return strings.ReplaceAll(s, " *", "*")
}

// byName indexes items by name.
func byName[T any](items []T, name func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[name(it)] = it
	}
	return m
}

func (c *comparison) constants(want, got []Constant) {
	gotBy := byName(got, func(x Constant) string { return x.Name })
	wantBy := byName(want, func(x Constant) string { return x.Name })
	for _, w := range want {
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing(w.Name, describeConstant(w))
			continue
		}
		c.check(w.Name, "value", g.Value, w.Value)
		c.checkType(w.Name, "type", g.Type, w.Type)
		c.check(w.Name, "alias of", orNone(g.AliasOf), orNone(w.AliasOf))
		c.check(w.Name, "header", g.Header, w.Header)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected(g.Name, describeConstant(g))
		}
	}
}

func describeConstant(k Constant) string {
	return fmt.Sprintf("%s (%s)", k.Value, k.Type)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (c *comparison) macros(want, got []Macro) {
	gotBy := byName(got, func(x Macro) string { return x.Name })
	wantBy := byName(want, func(x Macro) string { return x.Name })
	for _, w := range want {
		subject := "macro " + w.Name
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing(subject, describeMacro(w))
			continue
		}
		c.check(subject, "parameters", describeParams(g), describeParams(w))
		c.check(subject, "body", orEmpty(g.Body), orEmpty(w.Body))
		c.check(subject, "header", g.Header, w.Header)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected("macro "+g.Name, describeMacro(g))
		}
	}
}

func describeMacro(m Macro) string {
	if m.FunctionLike() {
		return "(" + strings.Join(m.Params, ", ") + ") " + orEmpty(m.Body)
	}
	return orEmpty(m.Body)
}

func describeParams(m Macro) string {
	if !m.FunctionLike() {
		return "(object-like)"
	}
	return "(" + strings.Join(m.Params, ", ") + ")"
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

func (c *comparison) typedefs(want, got []Typedef) {
	gotBy := byName(got, func(x Typedef) string { return x.Name })
	wantBy := byName(want, func(x Typedef) string { return x.Name })
	for _, w := range want {
		subject := "typedef " + w.Name
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing(subject, w.Type)
			continue
		}
		switch {
		case w.Signature != nil && g.Signature != nil:
			// The spelling repeats the signature; compare it part by part.
			c.signature(subject, *g.Signature, *w.Signature)
		default:
			c.checkType(subject, "type", g.Type, w.Type)
		}
		c.checkInt(subject, "size", g.Size, w.Size)
		c.check(subject, "header", g.Header, w.Header)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected("typedef "+g.Name, g.Type)
		}
	}
}

func (c *comparison) structs(want, got []Struct) {
	gotBy := byName(got, func(x Struct) string { return x.Name })
	wantBy := byName(want, func(x Struct) string { return x.Name })
	for _, w := range want {
		subject := "struct " + w.Name
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing(subject, fmt.Sprintf("size %d, align %d", w.Size, w.Align))
			continue
		}
		c.checkInt(subject, "size", g.Size, w.Size)
		c.checkInt(subject, "align", int64(g.Align), int64(w.Align))
		c.check(subject, "header", g.Header, w.Header)
		c.fields(subject, w.Fields, g.Fields)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected("struct "+g.Name, fmt.Sprintf("size %d, align %d", g.Size, g.Align))
		}
	}
}

// fields compares data members by name, including their position.
func (c *comparison) fields(owner string, want, got []Field) {
	gotIndex := map[string]int{}
	for i, f := range got {
		gotIndex[f.Name] = i
	}
	wantIndex := map[string]int{}
	for i, f := range want {
		wantIndex[f.Name] = i
	}
	for wi, w := range want {
		subject := owner + " field " + w.Name
		gi, ok := gotIndex[w.Name]
		if !ok {
			c.missing(subject, fmt.Sprintf("%s at offset %d", w.Type, w.Offset))
			continue
		}
		g := got[gi]
		c.checkInt(subject, "position", int64(gi), int64(wi))
		c.checkInt(subject, "offset", g.Offset, w.Offset)
		c.checkInt(subject, "size", g.Size, w.Size)
		c.checkType(subject, "type", g.Type, w.Type)
	}
	for _, g := range got {
		if _, ok := wantIndex[g.Name]; !ok {
			c.unexpected(owner+" field "+g.Name, fmt.Sprintf("%s at offset %d", g.Type, g.Offset))
		}
	}
}

func (c *comparison) tables(want, got []Table) {
	gotBy := byName(got, func(x Table) string { return x.Name })
	wantBy := byName(want, func(x Table) string { return x.Name })
	for _, w := range want {
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing("table "+w.Name, fmt.Sprintf("%d members, size %d", len(w.Members), w.Size))
			continue
		}
		c.checkInt("table "+w.Name, "size", g.Size, w.Size)
		c.checkInt("table "+w.Name, "align", int64(g.Align), int64(w.Align))
		c.check("table "+w.Name, "header", g.Header, w.Header)
		c.checkInt("table "+w.Name, "members", int64(len(g.Members)), int64(len(w.Members)))
		c.fields(w.Name, w.Fields, g.Fields)
		c.members(w.Name, w.Members, g.Members)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected("table "+g.Name, fmt.Sprintf("%d members, size %d", len(g.Members), g.Size))
		}
	}
}

// members compares function-pointer members position by position, because
// in a table the position is the ABI: a member in the wrong slot is wrong
// even if it has the right name and type.
func (c *comparison) members(table string, want, got []Member) {
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			w := want[i]
			c.missing(fmt.Sprintf("%s member %d", table, w.Index), w.Name)
		case i >= len(want):
			g := got[i]
			c.unexpected(fmt.Sprintf("%s member %d", table, g.Index), g.Name)
		default:
			w, g := want[i], got[i]
			slot := fmt.Sprintf("%s member %d", table, w.Index)
			if g.Name != w.Name || g.Index != w.Index {
				// The slot holds something else; comparing its type with
				// the wanted member's would only add noise.
				c.check(slot, "", g.Name, w.Name)
				if g.Index != w.Index {
					c.checkInt(slot+" ("+w.Name+")", "index", int64(g.Index), int64(w.Index))
				}
				continue
			}
			subject := slot + " (" + w.Name + ")"
			c.checkInt(subject, "offset", g.Offset, w.Offset)
			c.signature(subject, g.Signature, w.Signature)
		}
	}
}

func (c *comparison) functions(want, got []Function) {
	gotBy := byName(got, func(x Function) string { return x.Name })
	wantBy := byName(want, func(x Function) string { return x.Name })
	for _, w := range want {
		g, ok := gotBy[w.Name]
		if !ok {
			c.missing(w.Name, w.Signature.Declarator(w.Name))
			continue
		}
		c.signature(w.Name, g.Signature, w.Signature)
		c.check(w.Name, "visibility", orNone(g.Visibility), orNone(w.Visibility))
		c.check(w.Name, "header", g.Header, w.Header)
	}
	for _, g := range got {
		if _, ok := wantBy[g.Name]; !ok {
			c.unexpected(g.Name, g.Signature.Declarator(g.Name))
		}
	}
	c.functionOrder(want, got)
}

// functionOrder checks that the functions both sides declare appear in the
// same order within each header.
func (c *comparison) functionOrder(want, got []Function) {
	inWant := byName(want, func(x Function) string { return x.Name })
	inGot := byName(got, func(x Function) string { return x.Name })
	var headers []string
	wantOrder := map[string][]string{}
	for _, w := range want {
		if g, ok := inGot[w.Name]; ok && g.Header == w.Header {
			if _, seen := wantOrder[w.Header]; !seen {
				headers = append(headers, w.Header)
			}
			wantOrder[w.Header] = append(wantOrder[w.Header], w.Name)
		}
	}
	gotOrder := map[string][]string{}
	for _, g := range got {
		if w, ok := inWant[g.Name]; ok && g.Header == w.Header {
			gotOrder[g.Header] = append(gotOrder[g.Header], g.Name)
		}
	}
	for _, h := range headers {
		c.check("functions in "+h, "order", strings.Join(gotOrder[h], ", "), strings.Join(wantOrder[h], ", "))
	}
}

// signature compares two function types parameter by parameter.
func (c *comparison) signature(subject string, got, want Signature) {
	c.checkType(subject, "result", got.Result, want.Result)
	if got.Variadic != want.Variadic {
		c.changed(subject, "variadic", strconv.FormatBool(got.Variadic), strconv.FormatBool(want.Variadic))
	}
	c.checkInt(subject, "parameters", int64(len(got.Params)), int64(len(want.Params)))
	for i := 0; i < min(len(got.Params), len(want.Params)); i++ {
		g, w := got.Params[i], want.Params[i]
		param := fmt.Sprintf("%s param %d (%s)", subject, i+1, orUnnamed(w.Name))
		c.check(param, "name", orUnnamed(g.Name), orUnnamed(w.Name))
		c.checkType(param, "type", g.Type, w.Type)
	}
}

func orUnnamed(s string) string {
	if s == "" {
		return "unnamed"
	}
	return s
}
