package process

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

// userDB is the node's user database: os/user on a node (osUsers), a fake
// in tests. Errors for a missing entry are os/user's Unknown*Error types.
type userDB interface {
	Lookup(name string) (*user.User, error)
	LookupId(uid string) (*user.User, error)
	LookupGroup(name string) (*user.Group, error)
	GroupIds(u *user.User) ([]string, error)
}

// osUsers is the user database of the node the keeper runs on.
type osUsers struct{}

func (osUsers) Lookup(name string) (*user.User, error)       { return user.Lookup(name) }
func (osUsers) LookupId(uid string) (*user.User, error)      { return user.LookupId(uid) }
func (osUsers) LookupGroup(name string) (*user.Group, error) { return user.LookupGroup(name) }
func (osUsers) GroupIds(u *user.User) ([]string, error)      { return u.GroupIds() }

// identity is whom a workload runs as, resolved on its node.
type identity struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Home     string   // HOME, unless the spec's env sets it
}

// runAs resolves the user the launch spec names (nil for root) and gives
// it the task's work dir, under workRoot.
func runAs(ls launchSpec, workRoot string, db userDB) (*identity, error) {
	if ls.User == "" {
		return nil, nil
	}
	u, err := api.ParseUser(ls.User)
	if err != nil {
		return nil, err
	}
	id, err := resolveUser(db, u)
	if err != nil {
		return nil, err
	}
	if err := chownWorkDir(workRoot, ls.Dir, id); err != nil {
		return nil, err
	}
	if dir := secretsDirOf(ls.Env); dir != "" {
		if err := giveSecrets(dir, id); err != nil {
			return nil, err
		}
	}
	return &id, nil
}

// resolveUser looks u up the way Docker does: a user alone (by name, or
// by a number the database knows) runs with its primary group, the groups
// that list it as a member, and its home; a group given with the user
// replaces all of those groups. A name the database does not know is an
// error naming it, and so is a number it does not know without a group
// (there is no group to guess; a number with a group runs with HOME=/).
func resolveUser(db userDB, u api.User) (identity, error) {
	var entry *user.User
	var err error
	if u.User.Name != "" {
		entry, err = db.Lookup(u.User.Name)
	} else {
		entry, err = db.LookupId(strconv.FormatUint(uint64(u.User.Num), 10))
	}
	var unknownName user.UnknownUserError
	var unknownID user.UnknownUserIdError
	switch {
	case u.User.Name != "" && (errors.As(err, &unknownName) || errors.As(err, &unknownID)):
		if u.HasGroup {
			return identity{}, fmt.Errorf("user %q: no user %q on this node", u.String(), u.User.Name)
		}
		return identity{}, fmt.Errorf("user %q: no such user on this node", u.String())
	case errors.As(err, &unknownID) && !u.HasGroup:
		return identity{}, fmt.Errorf("user %q: uid %d has no entry on this node; give its group too (%d:GID)", u.String(), u.User.Num, u.User.Num)
	case errors.As(err, &unknownID):
		entry = nil
	case err != nil:
		return identity{}, fmt.Errorf("user %q: look up %s: %s", u.String(), u.User, textutil.OneLine(err.Error()))
	}
	id := identity{UID: u.User.Num, Home: "/"}
	if entry != nil {
		if id.UID, err = parseID(entry.Uid); err != nil {
			return identity{}, fmt.Errorf("user %q: uid %q in the user database: %w", u.String(), entry.Uid, err)
		}
		if entry.HomeDir != "" {
			id.Home = entry.HomeDir
		}
	}
	if u.HasGroup {
		if id.GID, err = resolveGroup(db, u); err != nil {
			return identity{}, err
		}
		return id, nil
	}
	if id.GID, err = parseID(entry.Gid); err != nil {
		return identity{}, fmt.Errorf("user %q: gid %q in the user database: %w", u.String(), entry.Gid, err)
	}
	gids, err := db.GroupIds(entry)
	if err != nil {
		return identity{}, fmt.Errorf("user %q: list its groups: %s", u.String(), textutil.OneLine(err.Error()))
	}
	for _, g := range gids {
		n, err := parseID(g)
		if err != nil {
			return identity{}, fmt.Errorf("user %q: group %q in the user database: %w", u.String(), g, err)
		}
		id.Groups = append(id.Groups, n)
	}
	return id, nil
}

// resolveGroup is the GID of u's group, looked up when given by name.
func resolveGroup(db userDB, u api.User) (uint32, error) {
	if u.Group.Name == "" {
		return u.Group.Num, nil
	}
	g, err := db.LookupGroup(u.Group.Name)
	var unknown user.UnknownGroupError
	switch {
	case errors.As(err, &unknown):
		return 0, fmt.Errorf("user %q: no group %q on this node", u.String(), u.Group.Name)
	case err != nil:
		return 0, fmt.Errorf("user %q: look up group %s: %s", u.String(), u.Group.Name, textutil.OneLine(err.Error()))
	}
	gid, err := parseID(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("user %q: gid %q in the group database: %w", u.String(), g.Gid, err)
	}
	return gid, nil
}

// parseID reads a number from the user database.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > api.MaxID {
		return 0, errors.New("not a valid ID")
	}
	return uint32(n), nil
}

// credential is what the workload's process is started with. Its groups
// are set even when empty: the keeper's own never pass on.
func (id identity) credential() *syscall.Credential {
	return &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups}
}

// withHome is env with HOME=home added unless env sets HOME.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "HOME="+home)
}

// chownWorkDir gives the workload's own directories to id: the task's
// work root and each directory from there down to dir (the spec's
// workdir, which Prepare created inside it). The task's directory above
// them, with the keeper's files, stays root's.
func chownWorkDir(workRoot, dir string, id identity) error {
	rel, err := filepath.Rel(workRoot, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("work dir %s is outside %s", dir, workRoot)
	}
	dirs := []string{workRoot}
	if rel != "." {
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], part))
		}
	}
	for _, d := range dirs {
		if err := os.Lchown(d, int(id.UID), int(id.GID)); err != nil {
			return fmt.Errorf("give the work dir to uid %d: %w", id.UID, err)
		}
	}
	return nil
}
