package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
)

// KeyFileName is the name of the node key file inside the data directory.
const KeyFileName = "node.key"

// LoadOrCreateIdentity reads dataDir/node.key (a libp2p MarshalPrivateKey
// encoding of an Ed25519 key) or creates it with mode 0600. dataDir must
// exist. A key file readable or writable by anyone but its owner is refused.
func LoadOrCreateIdentity(dataDir string) (crypto.PrivKey, error) {
	st, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data directory %s is not a directory", dataDir)
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKey(dataDir, path); err != nil {
		return nil, err
	}
	return loadKey(path)
}

// loadKey reads and checks the key file at path. It returns an error
// wrapping fs.ErrNotExist when the file does not exist.
func loadKey(path string) (crypto.PrivKey, error) {
	st, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("key file %s has permissions %04o, wider than 0600 (fix with: chmod 600 %s)", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s is unreadable: %w", path, err)
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s is corrupt: %w", path, err)
	}
	if key.Type() != pb.KeyType_Ed25519 {
		return nil, fmt.Errorf("key file %s holds a %s key, want Ed25519", path, key.Type())
	}
	return key, nil
}

// createKey writes a fresh Ed25519 key to path atomically: the key goes to a
// temporary file that is then hard-linked into place, so a concurrent
// creator never sees a half-written file and an existing key is never
// overwritten.
func createKey(dir, path string) error {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate node key: %w", err)
	}
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode node key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".node.key-*")
	if err != nil {
		return fmt.Errorf("create key file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	return nil
}
