package api

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// User is whom a service's tasks run as, parsed from ServiceSpec.User: a
// user and optionally a group, each a name or a number, as Docker's
// --user and Nomad's user take them ("nobody", "app:staff", "1000",
// "1000:1000", "app:1000"). Parsing only checks the form: names are looked
// up where the task runs (the process runtime in the node's user database,
// containerd in the image), never when the spec is submitted.
type User struct {
	User  ID
	Group ID // meaningful when HasGroup
	// HasGroup is set when a group was given ("NAME:GROUP"): it replaces
	// the user's own primary and supplementary groups.
	HasGroup bool
}

// ID is a user or a group: a name, or a number when Name is empty.
type ID struct {
	Name string
	Num  uint32
}

// MaxID is the highest user or group number: (uid_t)-1 means "unchanged"
// to the kernel, so it cannot name anyone.
const MaxID = 1<<32 - 2

// MaxUserNameLen bounds a user or group name (Linux's LOGIN_NAME_MAX).
const MaxUserNameLen = 256

// ParseUser reads a user setting: NAME, NAME:GROUP, UID or UID:GID, where
// a part of digits only is a number (0 to MaxID) and any other part a name
// (not starting with '-', without spaces or control characters, valid
// UTF-8, at most MaxUserNameLen bytes). It is the one user grammar of
// Shoal: validation, the CLI and the runtimes use it. Errors are one line
// starting with `user "<s>"`.
func ParseUser(s string) (User, error) {
	userPart, groupPart, hasGroup := strings.Cut(s, ":")
	if userPart == "" || hasGroup && (groupPart == "" || strings.Contains(groupPart, ":")) {
		return User{}, fmt.Errorf("user %q is not NAME, NAME:GROUP, UID or UID:GID", s)
	}
	u := User{HasGroup: hasGroup}
	var err error
	if u.User, err = parseID(s, userPart); err != nil {
		return User{}, err
	}
	if hasGroup {
		if u.Group, err = parseID(s, groupPart); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// parseID reads one part of the user setting s.
func parseID(s, part string) (ID, error) {
	if strings.Trim(part, "0123456789") == "" {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil || n > MaxID {
			return ID{}, fmt.Errorf("user %q: %s is out of range for an ID (0-%d)", s, part, uint32(MaxID))
		}
		return ID{Num: uint32(n)}, nil
	}
	switch {
	case len(part) > MaxUserNameLen:
		return ID{}, fmt.Errorf("user %q: a name is at most %d bytes", s, MaxUserNameLen)
	case !utf8.ValidString(part):
		return ID{}, fmt.Errorf("user %q: name %q is not valid UTF-8", s, part)
	case strings.HasPrefix(part, "-"):
		return ID{}, fmt.Errorf("user %q: name %q starts with '-'", s, part)
	case strings.ContainsFunc(part, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return ID{}, fmt.Errorf("user %q: name %q contains a space or control character", s, part)
	}
	return ID{Name: part}, nil
}

// String is the part as written: the name, or the number.
func (id ID) String() string {
	if id.Name != "" {
		return id.Name
	}
	return strconv.FormatUint(uint64(id.Num), 10)
}

// String writes u in the form ParseUser reads.
func (u User) String() string {
	if u.HasGroup {
		return u.User.String() + ":" + u.Group.String()
	}
	return u.User.String()
}

// MarshalText writes u as String does.
func (u User) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads a user with ParseUser.
func (u *User) UnmarshalText(b []byte) error {
	v, err := ParseUser(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
