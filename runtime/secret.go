package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Secret is one cluster secret handed to a task: its name and plaintext.
// It is held in memory only, never persisted and never logged: TaskSpec
// leaves it out of JSON, and fmt (every verb, %#v included), slog and
// encoding/json show only its name and size, never Data. Runtimes put it
// in files on a tmpfs (see MountSecretDir).
type Secret struct {
	Name string
	Data []byte
}

// String returns the secret's name and size, never its data.
func (s Secret) String() string {
	return fmt.Sprintf("secret %q (%d bytes)", s.Name, len(s.Data))
}

// GoString is String, so that %#v does not print the data either.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb (%v, %+v, %d, %x, ...).
func (s Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue makes slog log the name and size only.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.Int("size", len(s.Data)))
}

// MarshalJSON encodes the name and size only, so that a secret put into
// a persisted structure by mistake never reaches disk.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name string `json:"name"`
		Size int    `json:"size"`
	}{s.Name, len(s.Data)})
}

// CheckSecretNames refuses secrets whose names are not safe as one file
// name (empty, ".", "..", with '/' or a NUL byte, longer than 255 bytes)
// or that are given twice.
func CheckSecretNames(secrets []Secret) error {
	seen := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		switch {
		case s.Name == "":
			return errors.New("secret name is empty")
		case s.Name == "." || s.Name == "..":
			return fmt.Errorf("secret name %q is not allowed", s.Name)
		case strings.ContainsAny(s.Name, "/\x00"):
			return fmt.Errorf("secret name %q: must be a file name (no '/' or NUL byte)", s.Name)
		case len(s.Name) > 255:
			return fmt.Errorf("secret name %.20q... is longer than 255 bytes", s.Name)
		case seen[s.Name]:
			return fmt.Errorf("secret %q is given twice", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}
