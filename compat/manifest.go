package compat

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// The reference manifests, transcribed from the project's ABI reference
// notes (see each manifest's "notes"). They are the source of truth that the
// headers under include/ are checked against; edit them only when the
// reference ABI itself changes.
//
//go:embed manifest/*.json
var manifests embed.FS

// ManifestNames lists the manifests LoadManifest knows: "ipcz" and "mojo".
func ManifestNames() []string {
	entries, err := fs.ReadDir(manifests, "manifest")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	slices.Sort(names)
	return names
}

// LoadManifest returns the reference ABI with the given name ("ipcz" or
// "mojo"). Each call returns a fresh copy that the caller may modify.
//
// This is the hook for code that must agree with the C headers without
// parsing them, such as the cgo layer checking its constants:
//
//	m, _ := compat.LoadManifest("ipcz")
//	c, _ := m.Constant("IPCZ_RESULT_NOT_FOUND") // c.Int64() == 5
func LoadManifest(name string) (*ABI, error) {
	data, err := manifests.ReadFile("manifest/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("compat: no manifest %q (have %s)", name, strings.Join(ManifestNames(), ", "))
	}
	return DecodeABI(data)
}

// DecodeABI reads an ABI from JSON, rejecting unknown fields so that a typo
// in a hand-edited manifest cannot silently drop a fact.
func DecodeABI(data []byte) (*ABI, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a ABI
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("compat: decoding ABI: %w", err)
	}
	return &a, nil
}

// EncodeABI writes an ABI as indented JSON, the format of the manifests.
func EncodeABI(a *ABI) ([]byte, error) {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
