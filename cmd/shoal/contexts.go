package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/BurntSushi/toml"

	"github.com/shoal-project/shoal/internal/fsutil"
	"github.com/shoal-project/shoal/internal/textutil"
)

// A context names an agent endpoint and how to reach it, as Docker's
// contexts and kubeconfig do: `shoal context use prod` and every command
// goes to prod's agent with prod's token and pinned CA. They live in one
// TOML file, mode 0600: $SHOAL_CONFIG, else $XDG_CONFIG_HOME/shoal/config.toml,
// else ~/.config/shoal/config.toml.
type contextFile struct {
	Current  string                   `toml:"current,omitempty"`
	Contexts map[string]clientContext `toml:"contexts,omitempty"`
}

// clientContext is one named endpoint.
type clientContext struct {
	Addr          string `toml:"addr"`
	TokenFile     string `toml:"token_file,omitempty"`
	Token         string `toml:"token,omitempty"`
	CACert        string `toml:"ca_cert,omitempty"`
	CAFingerprint string `toml:"ca_fingerprint,omitempty"`
}

// contextPath is where the contexts are kept.
func (e *cliEnv) contextPath() (string, error) {
	if p := e.getenv("SHOAL_CONFIG"); p != "" {
		return p, nil
	}
	if d := e.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "shoal", "config.toml"), nil
	}
	home := e.getenv("HOME")
	if home == "" {
		return "", errors.New("contexts: neither $SHOAL_CONFIG, $XDG_CONFIG_HOME nor $HOME is set")
	}
	return filepath.Join(home, ".config", "shoal", "config.toml"), nil
}

// loadContexts reads the context file; a missing file is an empty one.
func (e *cliEnv) loadContexts() (contextFile, string, error) {
	var f contextFile
	path, err := e.contextPath()
	if err != nil {
		return f, "", err
	}
	md, err := toml.DecodeFile(path, &f)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return contextFile{}, path, nil
	case err != nil:
		return f, path, fmt.Errorf("contexts %s: %v", path, textutil.OneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return f, path, fmt.Errorf("contexts %s: unknown key %q", path, und[0].String())
	}
	return f, path, nil
}

// saveContexts writes the context file, mode 0600 (it may hold tokens).
func saveContexts(path string, f contextFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("contexts: %v", unwrapPath(err))
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return err
	}
	return fsutil.WriteFile(path, buf.Bytes(), 0o600, true)
}

// currentContext returns the context to use: --context, else $SHOAL_CONTEXT,
// else the file's current one; ok is false when there is none.
func (e *cliEnv) currentContext() (clientContext, string, bool, error) {
	name := e.context
	if name == "" {
		name = e.getenv("SHOAL_CONTEXT")
	}
	if _, err := e.contextPath(); err != nil && name == "" {
		return clientContext{}, "", false, nil // nowhere to keep contexts: none
	}
	f, path, err := e.loadContexts()
	if err != nil {
		return clientContext{}, "", false, err
	}
	if name == "" {
		name = f.Current
	}
	if name == "" {
		return clientContext{}, "", false, nil
	}
	c, ok := f.Contexts[name]
	if !ok {
		return clientContext{}, name, false, fmt.Errorf("context %q is not in %s (shoal context ls)", name, path)
	}
	return c, name, true, nil
}

// names lists the contexts, sorted.
func (f contextFile) names() []string {
	out := make([]string, 0, len(f.Contexts))
	for n := range f.Contexts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
