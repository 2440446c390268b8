package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"modernc.org/cc/v4"
)

// translate is cc.Translate, kept in a variable so a test can make it panic
// and check that Parse turns the panic into an error.
var translate = cc.Translate

// Parse reads the given headers (paths relative to includeDir) the way a C
// compiler would with -I includeDir, and returns the ABI they declare. Only
// declarations made in files under includeDir are reported; system headers
// are read but left out.
//
// Sizes and offsets are those of the host's C ABI; Target records which one.
// Parse needs a C compiler on PATH (or in $CC), from which cc/v4 takes the
// predefined macros and system include paths.
func Parse(includeDir string, headers ...string) (*ABI, error) {
	if len(headers) == 0 {
		return nil, errors.New("compat: no headers to parse")
	}
	root, err := filepath.Abs(includeDir)
	if err != nil {
		return nil, fmt.Errorf("compat: %w", err)
	}
	var probe strings.Builder
	for _, h := range headers {
		if _, err := os.Stat(filepath.Join(root, h)); err != nil {
			return nil, fmt.Errorf("compat: header %s: %w", h, err)
		}
		fmt.Fprintf(&probe, "#include \"%s\"\n", h)
	}

	cfg, err := cc.NewConfig(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("compat: configuring the C front end: %w", err)
	}
	// Macro values are needed for the constants, and function bodies (there
	// should be none) need not be type-checked.
	cfg.EvalAllMacros = true
	cfg.Header = true
	// Search the tree first, as -I would, so that an installed copy of the
	// same headers elsewhere on the system cannot shadow it.
	cfg.IncludePaths = withSearchDir(cfg.IncludePaths, root)
	cfg.SysIncludePaths = append([]string{root}, cfg.SysIncludePaths...)

	// The predefined macros and cc's builtin declarations must come first:
	// without them Translate fails (or panics) on the system headers.
	ast, err := translateSafely(cfg, []cc.Source{
		{Name: "<predefined>", Value: cfg.Predefined},
		{Name: "<builtin>", Value: cc.Builtin},
		{Name: "<abi-probe>", Value: probe.String()},
	})
	if err != nil {
		return nil, err
	}

	x := &extractor{
		root: root,
		abi: &ABI{
			Name:    abiName(headers),
			Target:  runtime.GOOS + "/" + runtime.GOARCH,
			Headers: slices.Clone(headers),
			// Empty lists rather than nil, so that JSON shows [] like the
			// manifests do.
			Constants: []Constant{},
			Macros:    []Macro{},
			Typedefs:  []Typedef{},
			Structs:   []Struct{},
			Tables:    []Table{},
			Functions: []Function{},
		},
	}
	x.translationUnit(ast)
	x.macros(ast)
	return x.abi, nil
}

// withSearchDir puts dir right after the "" entry (the directory of the
// including file), where a -I directory goes in a quote-include search.
func withSearchDir(paths []string, dir string) []string {
	out := make([]string, 0, len(paths)+1)
	inserted := false
	for _, p := range paths {
		if !inserted && p != "" && p != "@" {
			out = append(out, dir)
			inserted = true
		}
		out = append(out, p)
	}
	if !inserted {
		out = append(out, dir)
	}
	return out
}

// translateSafely runs the translation, turning a panic inside cc/v4 (which
// happens on some malformed inputs) into an error.
func translateSafely(cfg *cc.Config, sources []cc.Source) (ast *cc.AST, err error) {
	defer func() {
		if r := recover(); r != nil {
			ast, err = nil, fmt.Errorf("compat: C front end panicked: %v", r)
		}
	}()
	ast, err = translate(cfg, sources)
	if err != nil {
		return nil, fmt.Errorf("compat: %w", err)
	}
	return ast, nil
}

// abiName derives a short name from the first header: "ipcz/ipcz.h" gives
// "ipcz", "mojo/public/c/system/core.h" gives "mojo".
func abiName(headers []string) string {
	first := filepath.ToSlash(headers[0])
	if i := strings.IndexByte(first, '/'); i > 0 {
		return first[:i]
	}
	return strings.TrimSuffix(first, filepath.Ext(first))
}

// extractor collects the facts of one translation unit.
type extractor struct {
	root string
	abi  *ABI
}

// header returns the path of the file that holds n, relative to the include
// directory, or "" if the file is outside it.
func (x *extractor) header(n cc.Node) string {
	file := n.Position().Filename
	if file == "" {
		return ""
	}
	rel, err := filepath.Rel(x.root, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

func (x *extractor) translationUnit(ast *cc.AST) {
	for tu := ast.TranslationUnit; tu != nil; tu = tu.TranslationUnit {
		ed := tu.ExternalDeclaration
		if ed == nil || ed.Case != cc.ExternalDeclarationDecl {
			continue
		}
		if d := ed.Declaration; d.Case == cc.DeclarationDecl {
			x.declaration(d)
		}
	}
}

func (x *extractor) declaration(d *cc.Declaration) {
	for ds := d.DeclarationSpecifiers; ds != nil; ds = ds.DeclarationSpecifiers {
		if ds.Case != cc.DeclarationSpecifiersTypeSpec || ds.TypeSpecifier.Case != cc.TypeSpecifierStructOrUnion {
			continue
		}
		if s := ds.TypeSpecifier.StructOrUnionSpecifier; s.Case == cc.StructOrUnionSpecifierDef {
			x.structDefinition(s)
		}
	}
	for l := d.InitDeclaratorList; l != nil; l = l.InitDeclaratorList {
		decl := l.InitDeclarator.Declarator
		header := x.header(decl)
		if header == "" {
			continue
		}
		switch t := decl.Type(); {
		case decl.IsTypename():
			x.typedef(d, decl, header)
		case t.Kind() == cc.Function:
			ft := t.(*cc.FunctionType)
			x.abi.Functions = append(x.abi.Functions, Function{
				Name:       decl.Name(),
				Signature:  signature(ft),
				Visibility: visibility(t),
				Header:     header,
			})
		}
		// Object declarations are not part of the interfaces described here.
	}
}

func (x *extractor) typedef(d *cc.Declaration, decl *cc.Declarator, header string) {
	t := decl.Type()
	td := Typedef{Name: decl.Name(), Size: t.Size(), Header: header}
	if ft := functionPointee(t); ft != nil {
		sig := signature(ft)
		td.Signature = &sig
	}
	if decl.Pointer == nil && decl.DirectDeclarator != nil && decl.DirectDeclarator.Case == cc.DirectDeclaratorIdent {
		// `typedef uintptr_t IpczHandle;`: the aliased type is exactly what
		// the declaration specifiers name, typedef name included.
		td.Type = spell(d.DeclarationSpecifiers.Type())
	} else {
		// `typedef R (*Name)(…);`: the declarator builds the type.
		td.Type = spellStructure(t)
	}
	x.abi.Typedefs = append(x.abi.Typedefs, td)
}

func (x *extractor) structDefinition(s *cc.StructOrUnionSpecifier) {
	header := x.header(s)
	st, ok := s.Type().(*cc.StructType)
	if header == "" || !ok || st.IsIncomplete() {
		return
	}
	tag := st.Tag()
	name := tag.SrcStr()
	syntax := fieldSyntaxes(s)
	field := func(f *cc.Field) Field {
		return Field{Name: f.Name(), Offset: f.Offset(), Size: f.Type().Size(), Type: spellField(f.Type(), syntax[f.Name()])}
	}
	var fields []Field
	var members []Member
	for i := 0; i < st.NumFields(); i++ {
		f := st.FieldByIndex(i)
		if fn := functionPointee(f.Type()); fn != nil {
			members = append(members, Member{
				Index:     i,
				Name:      f.Name(),
				Offset:    f.Offset(),
				Signature: signature(fn),
			})
			continue
		}
		fields = append(fields, field(f))
	}
	// A table is a struct whose members are all function pointers except
	// the first, a header such as `size`.
	isTable := len(fields) == 1 && len(members) > 0 && members[0].Index == 1
	if isTable {
		x.abi.Tables = append(x.abi.Tables, Table{
			Name: name, Size: st.Size(), Align: st.Align(),
			Fields: fields, Members: members, Header: header,
		})
		return
	}
	all := make([]Field, 0, st.NumFields())
	for i := 0; i < st.NumFields(); i++ {
		all = append(all, field(st.FieldByIndex(i)))
	}
	x.abi.Structs = append(x.abi.Structs, Struct{
		Name: name, Size: st.Size(), Align: st.Align(), Fields: all, Header: header,
	})
}

// fieldSyntax is what the source says about a struct member's qualifiers.
// cc/v4 drops the qualifiers of member types (`const void* p` comes back as
// `void*`), so they are read from the declaration itself.
type fieldSyntax struct {
	// plain is false when the declarator has more than pointers (arrays,
	// functions, parentheses); then the qualifiers below are not used.
	plain bool
	// base holds the qualifiers written with the type specifiers.
	base qualifierSet
	// pointers holds the qualifiers of each `*`, in source order, which is
	// from the pointer nearest the base type outwards.
	pointers []qualifierSet
}

type qualifierSet struct{ isConst, isVolatile bool }

func (q qualifierSet) prefix() string {
	s := ""
	if q.isConst {
		s += "const "
	}
	if q.isVolatile {
		s += "volatile "
	}
	return s
}

func (q qualifierSet) suffix() string {
	s := ""
	if q.isConst {
		s += " const"
	}
	if q.isVolatile {
		s += " volatile"
	}
	return s
}

func (q *qualifierSet) add(tq *cc.TypeQualifier) {
	switch tq.Case {
	case cc.TypeQualifierConst:
		q.isConst = true
	case cc.TypeQualifierVolatile:
		q.isVolatile = true
	}
}

// fieldSyntaxes reads the qualifiers of every named member of a struct
// definition.
func fieldSyntaxes(s *cc.StructOrUnionSpecifier) map[string]fieldSyntax {
	out := map[string]fieldSyntax{}
	for l := s.StructDeclarationList; l != nil; l = l.StructDeclarationList {
		sd := l.StructDeclaration
		if sd == nil || sd.Case != cc.StructDeclarationDecl {
			continue
		}
		var base qualifierSet
		for q := sd.SpecifierQualifierList; q != nil; q = q.SpecifierQualifierList {
			if q.Case == cc.SpecifierQualifierListTypeQual {
				base.add(q.TypeQualifier)
			}
		}
		for dl := sd.StructDeclaratorList; dl != nil; dl = dl.StructDeclaratorList {
			d := dl.StructDeclarator.Declarator
			if d == nil {
				continue
			}
			fs := fieldSyntax{base: base, plain: d.DirectDeclarator != nil && d.DirectDeclarator.Case == cc.DirectDeclaratorIdent}
			for p := d.Pointer; p != nil; p = p.Pointer {
				var q qualifierSet
				for tqs := p.TypeQualifiers; tqs != nil; tqs = tqs.TypeQualifiers {
					if tqs.TypeQualifier != nil {
						q.add(tqs.TypeQualifier)
					}
				}
				fs.pointers = append(fs.pointers, q)
			}
			out[d.Name()] = fs
		}
	}
	return out
}

// spellField spells a struct member's type, taking its qualifiers from the
// source (see fieldSyntax).
func spellField(t cc.Type, syntax fieldSyntax) string {
	if !syntax.plain {
		return spell(t)
	}
	base := t
	for range syntax.pointers {
		p, ok := base.(*cc.PointerType)
		if !ok {
			return spell(t)
		}
		base = p.Elem()
	}
	if functionPointee(base) != nil || base.Kind() == cc.Function {
		return spell(t)
	}
	s := syntax.base.prefix() + strings.TrimPrefix(strings.TrimPrefix(spell(base), "const "), "volatile ")
	for _, q := range syntax.pointers {
		s += "*" + q.suffix()
	}
	return s
}

// macros records the macros defined in the tree, sorted by header path and
// then by position, so the order does not depend on the include order.
func (x *extractor) macros(ast *cc.AST) {
	type located struct {
		m      *cc.Macro
		header string
	}
	var found []located
	for _, m := range ast.Macros {
		if h := x.header(m); h != "" {
			found = append(found, located{m, h})
		}
	}
	slices.SortFunc(found, func(a, b located) int {
		if a.header != b.header {
			return strings.Compare(a.header, b.header)
		}
		pa, pb := a.m.Position(), b.m.Position()
		if pa.Line != pb.Line {
			return pa.Line - pb.Line
		}
		return pa.Column - pb.Column
	})
	for _, l := range found {
		m := l.m
		body := joinTokens(m.ReplacementList())
		name := m.Name.SrcStr()
		if !m.IsFnLike && body == "" && strings.HasSuffix(name, "_H_") {
			continue // an include guard
		}
		if !m.IsFnLike {
			if value, ok := integerValue(m.Value()); ok {
				c := Constant{Name: name, Value: value, Type: spell(m.Type()), Header: l.header}
				if repl := m.ReplacementList(); len(repl) == 1 {
					if target, ok := ast.Macros[repl[0].SrcStr()]; ok && !target.IsFnLike {
						c.AliasOf = repl[0].SrcStr()
					}
				}
				x.abi.Constants = append(x.abi.Constants, c)
				continue
			}
		}
		macro := Macro{Name: name, Body: body, Header: l.header}
		if m.IsFnLike {
			macro.Params = []string{}
			for _, p := range m.Params {
				macro.Params = append(macro.Params, p.SrcStr())
			}
		}
		x.abi.Macros = append(x.abi.Macros, macro)
	}
}

// integerValue formats a macro value that is an integer.
func integerValue(v cc.Value) (string, bool) {
	switch v := v.(type) {
	case cc.Int64Value:
		return strconv.FormatInt(int64(v), 10), true
	case cc.UInt64Value:
		return strconv.FormatUint(uint64(v), 10), true
	}
	return "", false
}

// joinTokens spells a replacement list compactly and deterministically: a
// space only between two word-like tokens and after a comma.
func joinTokens(tokens []cc.Token) string {
	var b strings.Builder
	prev := ""
	for _, t := range tokens {
		s := t.SrcStr()
		if prev != "" && (prev == "," || (wordLike(prev[len(prev)-1]) && wordLike(s[0]))) {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		prev = s
	}
	return b.String()
}

func wordLike(c byte) bool {
	return c == '_' || c == '"' || c == '\'' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func visibility(t cc.Type) string {
	if a := t.Attributes(); a != nil {
		return a.Visibility()
	}
	return ""
}

// functionPointee returns the function type a pointer-to-function type
// points to, or nil for any other type.
func functionPointee(t cc.Type) *cc.FunctionType {
	if p, ok := t.(*cc.PointerType); ok {
		if f, ok := p.Elem().(*cc.FunctionType); ok {
			return f
		}
	}
	return nil
}

func signature(ft *cc.FunctionType) Signature {
	sig := Signature{Result: spell(ft.Result()), Params: []Param{}, Variadic: ft.IsVariadic()}
	params := ft.Parameters()
	// `f(void)` is reported as one unnamed parameter of type void.
	if len(params) == 1 && params[0].Type().Kind() == cc.Void {
		return sig
	}
	for _, p := range params {
		sig.Params = append(sig.Params, Param{Name: p.Name(), Type: spell(p.Type())})
	}
	return sig
}

// spell writes a type the way C source would: typedef names are kept, and
// qualifiers are written out, so that `const IpczDriverHandle*` and
// `IpczDriverHandle*` spell differently. (cc's own Type.String drops const
// on typedef names.)
func spell(t cc.Type) string {
	if td := t.Typedef(); td != nil {
		return qualifiers(t) + td.Name()
	}
	return spellStructure(t)
}

// spellStructure spells t without using t's own typedef name, if it has one.
func spellStructure(t cc.Type) string {
	switch t := t.(type) {
	case *cc.PointerType:
		if fn, ok := t.Elem().(*cc.FunctionType); ok {
			sig := signature(fn)
			inner := "*"
			if isConst(t) {
				inner += " const"
			}
			return sig.Result + " (" + inner + ")(" + sig.ParamList() + ")"
		}
		s := spell(t.Elem()) + "*"
		if isConst(t) {
			s += " const"
		}
		if a := t.Attributes(); a != nil && a.IsVolatile() {
			s += " volatile"
		}
		return s
	case *cc.StructType:
		tag := t.Tag()
		return qualifiers(t) + "struct " + tag.SrcStr()
	case *cc.UnionType:
		tag := t.Tag()
		return qualifiers(t) + "union " + tag.SrcStr()
	case *cc.EnumType:
		tag := t.Tag()
		return qualifiers(t) + "enum " + tag.SrcStr()
	case *cc.ArrayType:
		return fmt.Sprintf("%s[%d]", spell(t.Elem()), t.Len())
	case *cc.FunctionType:
		return signature(t).String()
	}
	return qualifiers(t) + kindSpelling(t.Kind())
}

func isConst(t cc.Type) bool {
	a := t.Attributes()
	return a != nil && a.IsConst()
}

func qualifiers(t cc.Type) string {
	a := t.Attributes()
	if a == nil {
		return ""
	}
	q := ""
	if a.IsConst() {
		q += "const "
	}
	if a.IsVolatile() {
		q += "volatile "
	}
	return q
}

// kindSpelling gives the C spelling of a basic type. cc's Kind names use the
// short forms ("unsigned" for unsigned int), which C also accepts, but the
// long forms read better next to other types.
func kindSpelling(k cc.Kind) string {
	switch k {
	case cc.UInt:
		return "unsigned int"
	case cc.Bool:
		return "_Bool"
	}
	return k.String()
}
