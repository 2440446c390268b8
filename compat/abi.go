package compat

import (
	"fmt"
	"strconv"
	"strings"
)

// ABI is the binary interface one set of C headers declares, as a C compiler
// for Target sees it. Items keep their declaration order, so two ABIs of the
// same headers list everything in the same order.
//
// Types are spelled the way C source spells them, with typedef names kept
// ("IpczDriverHandle", not "unsigned long") and qualifiers written out
// ("const IpczDriverHandle*"), so a spelling is both readable and exact: two
// spellings are equal exactly when the declarations agree on every typedef
// name, struct tag and qualifier.
type ABI struct {
	// Name identifies the interface: "ipcz" or "mojo" for the manifests.
	Name string `json:"name"`
	// Target is the GOOS/GOARCH pair whose C ABI gave the sizes and offsets.
	Target string `json:"target"`
	// Headers are the entry headers, relative to the include directory.
	Headers []string `json:"headers"`
	// Notes explain, for people, where the facts come from and which
	// deliberate additions the headers make. Parse leaves them empty and
	// Compare ignores them.
	Notes []string `json:"notes,omitempty"`

	Constants []Constant `json:"constants"`
	Macros    []Macro    `json:"macros"`
	Typedefs  []Typedef  `json:"typedefs"`
	Structs   []Struct   `json:"structs"`
	Tables    []Table    `json:"tables"`
	Functions []Function `json:"functions"`
}

// Constant is an object-like macro with an integer value.
type Constant struct {
	Name string `json:"name"`
	// Value is the exact value in decimal. Use Int64 or Uint64 to read it.
	Value string `json:"value"`
	// Type is the C type of the macro's expression.
	Type string `json:"type"`
	// AliasOf names the constant this one is defined as, if its whole
	// definition is the name of another constant.
	AliasOf string `json:"alias_of,omitempty"`
	Header  string `json:"header"`
}

// Int64 returns the value as a signed integer. It fails for values that do
// not fit, such as MOJO_DEADLINE_INDEFINITE.
func (c Constant) Int64() (int64, error) {
	return strconv.ParseInt(c.Value, 10, 64)
}

// Uint64 returns the value as an unsigned integer, converting a negative
// value the way a C cast to a 64-bit unsigned type would.
func (c Constant) Uint64() (uint64, error) {
	if strings.HasPrefix(c.Value, "-") {
		v, err := strconv.ParseInt(c.Value, 10, 64)
		return uint64(v), err
	}
	return strconv.ParseUint(c.Value, 10, 64)
}

// Macro is any other macro the headers define: function-like helpers,
// attribute macros and name aliases. Include guards are left out.
type Macro struct {
	Name string `json:"name"`
	// Params lists the parameter names of a function-like macro; it is nil
	// for an object-like macro.
	Params []string `json:"params"`
	// Body is the replacement list with the tokens joined compactly: no
	// spaces except between two word tokens and after commas.
	Body   string `json:"body"`
	Header string `json:"header"`
}

// FunctionLike reports whether the macro takes arguments.
func (m Macro) FunctionLike() bool { return m.Params != nil }

// Typedef is a typedef name.
type Typedef struct {
	Name string `json:"name"`
	// Type spells the aliased type, for example "uintptr_t" or
	// "struct MojoHandleSignalsState". For a pointer to a function it is the
	// full function pointer type, parameter names included.
	Type string `json:"type"`
	Size int64  `json:"size"`
	// Signature is set when the typedef names a pointer to a function.
	Signature *Signature `json:"signature,omitempty"`
	Header    string     `json:"header"`
}

// Struct is a struct definition that holds data. Structs whose members after
// the first are all function pointers are listed as Tables instead.
type Struct struct {
	Name   string  `json:"name"`
	Size   int64   `json:"size"`
	Align  int     `json:"align"`
	Fields []Field `json:"fields"`
	Header string  `json:"header"`
}

// Field is one member of a struct.
type Field struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
}

// Table is a struct of function pointers (IpczAPI, IpczDriver,
// MojoSystemThunks). Its member order is part of the ABI.
type Table struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Align int    `json:"align"`
	// Fields are the members that are not function pointers (the leading
	// `size`).
	Fields []Field `json:"fields"`
	// Members are the function pointers in declaration order.
	Members []Member `json:"members"`
	Header  string   `json:"header"`
}

// Member is one function pointer in a Table.
type Member struct {
	// Index is the member's position among all the struct's members, so the
	// first function pointer after `size` has index 1.
	Index     int       `json:"index"`
	Name      string    `json:"name"`
	Offset    int64     `json:"offset"`
	Signature Signature `json:"signature"`
}

// Function is a declared (not defined) function.
type Function struct {
	Name      string    `json:"name"`
	Signature Signature `json:"signature"`
	// Visibility is the ELF visibility the declaration asks for ("default"),
	// or "" if it names none.
	Visibility string `json:"visibility"`
	Header     string `json:"header"`
}

// Signature is a function type.
type Signature struct {
	Result   string  `json:"result"`
	Params   []Param `json:"params"`
	Variadic bool    `json:"variadic,omitempty"`
}

// Param is one function parameter. Name is "" for an unnamed parameter.
type Param struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// String spells the signature as a C function type without a name, for
// example "IpczResult (IpczHandle handle, uint32_t flags)".
func (s Signature) String() string {
	return s.Result + " (" + s.ParamList() + ")"
}

// ParamList spells the parameter list, "void" when there are none.
func (s Signature) ParamList() string {
	if len(s.Params) == 0 && !s.Variadic {
		return "void"
	}
	parts := make([]string, 0, len(s.Params)+1)
	for _, p := range s.Params {
		parts = append(parts, declare(p.Type, p.Name))
	}
	if s.Variadic {
		parts = append(parts, "...")
	}
	return strings.Join(parts, ", ")
}

// Declarator spells a declaration of `name` as a pointer to a function of
// this signature, for example "IpczResult (*name)(IpczHandle handle)".
func (s Signature) Declarator(name string) string {
	return s.Result + " (*" + name + ")(" + s.ParamList() + ")"
}

// declare spells a declaration of `name` with type `typ`. A function pointer
// type ("R (*)(…)") takes the name inside its parentheses.
func declare(typ, name string) string {
	if name == "" {
		return typ
	}
	if i := strings.Index(typ, "(*)"); i >= 0 {
		return typ[:i] + "(*" + name + ")" + typ[i+3:]
	}
	return typ + " " + name
}

// Constant returns the named constant.
func (a *ABI) Constant(name string) (Constant, bool) {
	for _, c := range a.Constants {
		if c.Name == name {
			return c, true
		}
	}
	return Constant{}, false
}

// Struct returns the named data struct.
func (a *ABI) Struct(name string) (Struct, bool) {
	for _, s := range a.Structs {
		if s.Name == name {
			return s, true
		}
	}
	return Struct{}, false
}

// Table returns the named function-pointer table.
func (a *ABI) Table(name string) (Table, bool) {
	for _, t := range a.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Function returns the named function declaration.
func (a *ABI) Function(name string) (Function, bool) {
	for _, f := range a.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Typedef returns the named typedef.
func (a *ABI) Typedef(name string) (Typedef, bool) {
	for _, t := range a.Typedefs {
		if t.Name == name {
			return t, true
		}
	}
	return Typedef{}, false
}

// Report writes the ABI as stable, line-oriented text: one line per
// constant, macro, typedef and function, and one line per struct or table
// followed by one indented line per member.
func (a *ABI) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "abi %s %s\n", a.Name, a.Target)
	for _, h := range a.Headers {
		fmt.Fprintf(&b, "header %s\n", h)
	}
	for _, c := range a.Constants {
		fmt.Fprintf(&b, "constant %s = %s (%s)", c.Name, c.Value, c.Type)
		if c.AliasOf != "" {
			fmt.Fprintf(&b, " alias of %s", c.AliasOf)
		}
		fmt.Fprintf(&b, " [%s]\n", c.Header)
	}
	for _, m := range a.Macros {
		name := m.Name
		if m.FunctionLike() {
			name += "(" + strings.Join(m.Params, ", ") + ")"
		}
		if m.Body == "" {
			fmt.Fprintf(&b, "macro %s (empty) [%s]\n", name, m.Header)
		} else {
			fmt.Fprintf(&b, "macro %s = %s [%s]\n", name, m.Body, m.Header)
		}
	}
	for _, t := range a.Typedefs {
		fmt.Fprintf(&b, "typedef %s = %s, size %d [%s]\n", t.Name, t.Type, t.Size, t.Header)
	}
	for _, s := range a.Structs {
		fmt.Fprintf(&b, "struct %s: size %d, align %d [%s]\n", s.Name, s.Size, s.Align, s.Header)
		for _, f := range s.Fields {
			fmt.Fprintf(&b, "  @%d %s, size %d\n", f.Offset, declare(f.Type, f.Name), f.Size)
		}
	}
	for _, t := range a.Tables {
		fmt.Fprintf(&b, "table %s: size %d, align %d [%s]\n", t.Name, t.Size, t.Align, t.Header)
		for _, f := range t.Fields {
			fmt.Fprintf(&b, "  @%d %s, size %d\n", f.Offset, declare(f.Type, f.Name), f.Size)
		}
		for _, m := range t.Members {
			fmt.Fprintf(&b, "  #%d @%d %s\n", m.Index, m.Offset, m.Signature.Declarator(m.Name))
		}
	}
	for _, f := range a.Functions {
		fmt.Fprintf(&b, "function %s %s(%s)", f.Signature.Result, f.Name, f.Signature.ParamList())
		if f.Visibility != "" {
			fmt.Fprintf(&b, " visibility %s", f.Visibility)
		}
		fmt.Fprintf(&b, " [%s]\n", f.Header)
	}
	return b.String()
}
