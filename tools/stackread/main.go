// Command stackread prints the config of Pulumi stack files as the Pulumi engine hands it
// to a program, using the CLI's own YAML library (gopkg.in/yaml.v3) and config types
// (sdk/go/common/resource/config), in the steps of workspace.LoadProjectStackBytes:
// decode into any, namespace the keys with the project name, encode, decode into a
// config.Map, then each value's string form (config.Value.Value).
//
// Usage: stackread PROJECT FILE...; one JSON line per file: {"config": {key: string}} or
// {"error": message}. The llm-infra tests compare it with llm_infra/stack_file.py.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"gopkg.in/yaml.v3"
)

func read(project, path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimPrefix(string(b), "\ufeff"))
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return map[string]string{}, nil
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected project to be an object, was '%T'", raw)
	}
	if cfg, ok := doc["config"].(map[string]any); ok {
		named := map[string]any{}
		for k, v := range cfg {
			if !strings.Contains(k, ":") {
				k = project + ":" + k
			}
			named[k] = v
		}
		doc["config"] = named
	}
	again, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var stack struct {
		Config config.Map `yaml:"config,omitempty"`
	}
	if err := yaml.Unmarshal(again, &stack); err != nil {
		return nil, err
	}
	values := map[string]string{}
	for k, v := range stack.Config {
		if v.Secure() {
			values[k.String()] = "<secure>"
			continue
		}
		s, err := v.Value(config.NopDecrypter)
		if err != nil {
			return nil, err
		}
		values[k.String()] = s
	}
	return values, nil
}

func main() {
	for _, path := range os.Args[2:] {
		values, err := read(os.Args[1], path)
		var out []byte
		if err != nil {
			out, _ = json.Marshal(map[string]string{"error": err.Error()})
		} else {
			out, _ = json.Marshal(map[string]any{"config": values})
		}
		fmt.Println(string(out))
	}
}
