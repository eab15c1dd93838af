// sdkgen: generate a Go SDK for llm-infra's package schema with Pulumi's own Go code generator
// (github.com/pulumi/pulumi/pkg/v3/codegen/go, the code `pulumi package gen-sdk --language go`
// runs inside pulumi-language-go, which the Go module proxy does not serve).
//
//	sdkgen -schema llm-infra.json -dep kubernetes=schema.json -out DIR
//
// -dep gives the schema of a package the schema refers to (`/kubernetes/v4.34.2/schema.json#...`).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

type deps []string

func (d *deps) String() string     { return strings.Join(*d, ",") }
func (d *deps) Set(v string) error { *d = append(*d, v); return nil }

// fileLoader binds the schemas given with -dep, by package name (the version asked for is not checked:
// only the provider resources' tokens and language import paths are used).
type fileLoader struct {
	files    map[string]string
	packages map[string]*schema.Package
}

func (l *fileLoader) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	if pkg, ok := l.packages[name]; ok {
		return pkg, nil
	}
	path, ok := l.files[name]
	if !ok {
		return nil, fmt.Errorf("no schema for package %q (pass -dep %s=FILE)", name, name)
	}
	spec, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	pkg, err := schema.ImportSpec(spec, nil, l, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, fmt.Errorf("binding %s: %w", path, err)
	}
	l.packages[name] = pkg
	return pkg, nil
}

func (l *fileLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, d.Version)
}

func readSpec(path string) (schema.PackageSpec, error) {
	var spec schema.PackageSpec
	data, err := os.ReadFile(path)
	if err != nil {
		return spec, err
	}
	return spec, json.Unmarshal(data, &spec)
}

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	out := flag.String("out", "", "output directory")
	var depFlags deps
	flag.Var(&depFlags, "dep", "NAME=FILE: the schema of a package the schema refers to (repeatable)")
	flag.Parse()
	if *schemaPath == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: sdkgen -schema FILE -out DIR [-dep NAME=FILE ...]")
		os.Exit(2)
	}
	loader := &fileLoader{files: map[string]string{}, packages: map[string]*schema.Package{}}
	for _, d := range depFlags {
		name, file, ok := strings.Cut(d, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "sdkgen: -dep %q: expected NAME=FILE\n", d)
			os.Exit(2)
		}
		loader.files[name] = file
	}
	spec, err := readSpec(*schemaPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
		os.Exit(1)
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil || diags.HasErrors() {
		fmt.Fprintf(os.Stderr, "sdkgen: binding %s: %v %v\n", *schemaPath, err, diags)
		os.Exit(1)
	}
	files, err := gogen.GeneratePackage("llm-infra-sdkgen", pkg, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: generating: %v\n", err)
		os.Exit(1)
	}
	for name, content := range files {
		path := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Printf("sdkgen: %d files in %s\n", len(files), *out)
}
