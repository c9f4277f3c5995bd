package api

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func TestParseUser(t *testing.T) {
	name := func(s string) ID { return ID{Name: s} }
	num := func(n uint32) ID { return ID{Num: n} }
	for _, c := range []struct {
		in   string
		want User
		text string // String(), when it differs from in
	}{
		{"nobody", User{User: name("nobody")}, ""},
		{"0", User{User: num(0)}, ""},
		{"65534", User{User: num(65534)}, ""},
		{"4294967294", User{User: num(MaxID)}, ""},
		{"007", User{User: num(7)}, "7"},
		{"app:staff", User{User: name("app"), Group: name("staff"), HasGroup: true}, ""},
		{"1000:1000", User{User: num(1000), Group: num(1000), HasGroup: true}, ""},
		{"app:0", User{User: name("app"), Group: num(0), HasGroup: true}, ""},
		{"0:wheel", User{User: num(0), Group: name("wheel"), HasGroup: true}, ""},
		{"1abc", User{User: name("1abc")}, ""},
		{"machine$", User{User: name("machine$")}, ""},
		{"Ådne.x_y-z", User{User: name("Ådne.x_y-z")}, ""},
	} {
		got, err := ParseUser(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseUser(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		text := c.text
		if text == "" {
			text = c.in
		}
		if got.String() != text {
			t.Errorf("ParseUser(%q).String() = %q, want %q", c.in, got.String(), text)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", `user "" is not NAME, NAME:GROUP, UID or UID:GID`},
		{":", `user ":" is not NAME, NAME:GROUP, UID or UID:GID`},
		{"a:b:c", `user "a:b:c" is not NAME, NAME:GROUP, UID or UID:GID`},
		{":staff", `user ":staff" is not NAME, NAME:GROUP, UID or UID:GID`},
		{"app:", `user "app:" is not NAME, NAME:GROUP, UID or UID:GID`},
		{"4294967295", `user "4294967295": 4294967295 is out of range for an ID (0-4294967294)`},
		{"1:99999999999999999999999", `user "1:99999999999999999999999": 99999999999999999999999 is out of range`},
		{"-1", `user "-1": name "-1" starts with '-'`},
		{"my user", `user "my user": name "my user" contains a space or control character`},
		{"app:st\x00ff", `user "app:st\x00ff": name "st\x00ff" contains a space or control character`},
		{"a\u00a0b", `contains a space or control character`},
		{"a\xffb", `user "a\xffb": name "a\xffb" is not valid UTF-8`},
		{strings.Repeat("u", MaxUserNameLen+1), `a name is at most 256 bytes`},
	} {
		got, err := ParseUser(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseUser(%q) = %+v, %v; want an error containing %q", c.in, got, err, c.want)
		}
	}
}

func TestUserText(t *testing.T) {
	var u User
	if err := u.UnmarshalText([]byte("app:1000")); err != nil || u.String() != "app:1000" {
		t.Fatalf("UnmarshalText = %+v, %v", u, err)
	}
	if b, _ := u.MarshalText(); string(b) != "app:1000" {
		t.Fatalf("MarshalText = %q", b)
	}
	if err := u.UnmarshalText([]byte("a:b:c")); err == nil || u.String() != "app:1000" {
		t.Fatalf("a bad user was read, or changed the value: %+v, %v", u, err)
	}
}

// FuzzParseUser: ParseUser never panics; what it accepts is written back
// by String in a form it reads as the same user, with the parts the input
// had; what it refuses gets one line that quotes the input.
func FuzzParseUser(f *testing.F) {
	for _, s := range []string{"nobody", "0", "1000:1000", "app:staff", "007:x", "a:b:c", ":", "", "-1", "4294967295", "a b", "a\xff", "ü:ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUser(s)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "user "+strconv.Quote(s)) {
				t.Fatalf("ParseUser(%q): error %q is not one line quoting the input", s, msg)
			}
			return
		}
		if strings.Count(s, ":") > 1 || strings.ContainsFunc(s, unicode.IsSpace) || u.HasGroup != strings.Contains(s, ":") {
			t.Fatalf("ParseUser(%q) accepted %+v", s, u)
		}
		back, err := ParseUser(u.String())
		if err != nil || back != u {
			t.Fatalf("ParseUser(%q) = %+v, but its String %q reads back as %+v, %v", s, u, u.String(), back, err)
		}
		if !u.HasGroup && u.Group != (ID{}) {
			t.Fatalf("ParseUser(%q) = %+v: a group without HasGroup", s, u)
		}
	})
}
