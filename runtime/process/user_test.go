package process

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// fakeUsers is a user database: app (1000, primary group 1000, also in
// 27 and 100), nobody (65534) and the groups staff (50) and nogroup.
type fakeUsers struct{ fail error }

var fakeEntries = []*user.User{
	{Uid: "1000", Gid: "1000", Username: "app", HomeDir: "/home/app"},
	{Uid: "65534", Gid: "65534", Username: "nobody", HomeDir: "/nonexistent"},
}

func (f fakeUsers) Lookup(name string) (*user.User, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	for _, u := range fakeEntries {
		if u.Username == name {
			return u, nil
		}
	}
	return nil, user.UnknownUserError(name)
}

func (f fakeUsers) LookupId(uid string) (*user.User, error) {
	for _, u := range fakeEntries {
		if u.Uid == uid {
			return u, nil
		}
	}
	return nil, user.UnknownUserIdError(0)
}

func (f fakeUsers) LookupGroup(name string) (*user.Group, error) {
	switch name {
	case "staff":
		return &user.Group{Gid: "50", Name: name}, nil
	case "nogroup":
		return &user.Group{Gid: "65534", Name: name}, nil
	}
	return nil, user.UnknownGroupError(name)
}

func (f fakeUsers) GroupIds(u *user.User) ([]string, error) {
	if u.Username == "app" {
		return []string{"1000", "27", "100"}, nil
	}
	return []string{u.Gid}, nil
}

func TestResolveUser(t *testing.T) {
	for _, c := range []struct {
		user string
		want identity
	}{
		// A user alone: its primary group, its memberships, its home.
		{"app", identity{UID: 1000, GID: 1000, Groups: []uint32{1000, 27, 100}, Home: "/home/app"}},
		{"1000", identity{UID: 1000, GID: 1000, Groups: []uint32{1000, 27, 100}, Home: "/home/app"}},
		{"nobody", identity{UID: 65534, GID: 65534, Groups: []uint32{65534}, Home: "/nonexistent"}},
		// A group replaces the user's groups.
		{"app:staff", identity{UID: 1000, GID: 50, Home: "/home/app"}},
		{"app:7", identity{UID: 1000, GID: 7, Home: "/home/app"}},
		{"1000:nogroup", identity{UID: 1000, GID: 65534, Home: "/home/app"}},
		// A number the database does not know needs its group.
		{"4242:4343", identity{UID: 4242, GID: 4343, Home: "/"}},
		{"4242:staff", identity{UID: 4242, GID: 50, Home: "/"}},
	} {
		u, err := api.ParseUser(c.user)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resolveUser(fakeUsers{}, u)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %+v", c.user, got, err, c.want)
		}
	}
	for _, c := range []struct {
		db        fakeUsers
		user, err string
	}{
		{fakeUsers{}, "ghost", `user "ghost": no such user on this node`},
		{fakeUsers{}, "ghost:staff", `user "ghost:staff": no user "ghost" on this node`},
		{fakeUsers{}, "app:ghosts", `user "app:ghosts": no group "ghosts" on this node`},
		{fakeUsers{}, "4242", `user "4242": uid 4242 has no entry on this node; give its group too (4242:GID)`},
		{fakeUsers{fail: errors.New("nss\nunavailable")}, "app", `user "app": look up app: nss unavailable`},
	} {
		u, _ := api.ParseUser(c.user)
		got, err := resolveUser(c.db, u)
		if err == nil || err.Error() != c.err {
			t.Errorf("resolveUser(%q) = %+v, %v; want error %q", c.user, got, err, c.err)
		}
	}
}

func TestCredentialAndHome(t *testing.T) {
	id := identity{UID: 1000, GID: 50, Home: "/home/app"}
	cred := id.credential()
	if cred.Uid != 1000 || cred.Gid != 50 || len(cred.Groups) != 0 || cred.NoSetGroups {
		t.Errorf("credential = %+v: want uid 1000, gid 50, the groups cleared", cred)
	}
	id.Groups = []uint32{1000, 27}
	if cred := id.credential(); !reflect.DeepEqual(cred.Groups, []uint32{1000, 27}) {
		t.Errorf("credential groups = %v", cred.Groups)
	}
	env := []string{"PATH=/bin", "A=1"}
	if got := withHome(env, "/home/app"); !reflect.DeepEqual(got, []string{"PATH=/bin", "A=1", "HOME=/home/app"}) || len(env) != 2 {
		t.Errorf("withHome = %v (env now %v)", got, env)
	}
	set := []string{"HOME=/srv", "A=1"}
	if got := withHome(set, "/home/app"); !reflect.DeepEqual(got, set) {
		t.Errorf("withHome over the spec's HOME = %v", got)
	}
}

// TestChownWorkDir: the work root and the directories down to the spec's
// workdir go to the user; the task directory above stays root's.
func TestChownWorkDir(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give directories away")
	}
	task := t.TempDir()
	root := filepath.Join(task, workDirName)
	dir := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chownWorkDir(root, dir, identity{UID: 4242, GID: 4343}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "a"), dir} {
		if st := statOwner(t, d); st != [2]uint32{4242, 4343} {
			t.Errorf("%s is owned by %v, want 4242:4343", d, st)
		}
	}
	if st := statOwner(t, task); st != [2]uint32{0, 0} {
		t.Errorf("task dir is owned by %v, want root", st)
	}
	if err := chownWorkDir(root, task, identity{UID: 4242}); err == nil {
		t.Error("a dir above the work root was accepted")
	}
}

func statOwner(t *testing.T, p string) [2]uint32 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return [2]uint32{st.Uid, st.Gid}
}

// TestRunAsUser runs a task as nobody through the keeper, in a root-only
// runtime root: it has nobody's IDs and groups, HOME, and a work dir it
// can write in, and it cannot read the keeper's files.
func TestRunAsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a task as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	r := newRuntime(t, Config{})
	spec := shTask("t-user", `id -u; id -g; id -G; echo "HOME=$HOME"; pwd; echo hi > mine && echo wrote; ls ../.. || echo denied`)
	spec.Spec.User = "nobody"
	spec.Spec.WorkDir = "sub"
	startTask(t, r, spec)
	if st, err := r.Wait(ctxT(t), "t-user"); err != nil || st.ExitCode != 0 {
		t.Fatalf("wait = %+v, %v; log:\n%s", st, err, readLog(t, r, "t-user", -1))
	}
	out := readLog(t, r, "t-user", -1)
	groups, err := nobody.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{nobody.Uid, nobody.Gid, strings.Join(groups, " "), "HOME=" + nobody.HomeDir,
		filepath.Join(workDir(r, "t-user"), "sub"), "wrote"}, "\n")
	if !strings.HasPrefix(out, want+"\n") || !strings.HasSuffix(out, "denied\n") {
		t.Fatalf("log:\n%s\nwant it to start with:\n%s\nand the task dir denied", out, want)
	}
	for _, d := range []string{filepath.Join(r.root, "tasks"), filepath.Join(r.root, "tasks", "t-user")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 || statOwner(t, d) != [2]uint32{0, 0} {
			t.Errorf("%s = %v, %v; want it root-only (0700)", d, fi.Mode(), err)
		}
	}
}

// TestRunAsUnknownUser: a name the node does not know fails the start with
// an error naming it, recorded as the task's exit like any start failure.
func TestRunAsUnknownUser(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	spec := shTask("t-ghost", "echo ran")
	spec.Spec.User = "shoal-no-such-user"
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	err := r.Start(ctx, "t-ghost")
	want := `user "shoal-no-such-user": no such user on this node`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start = %v; want an error containing %q", err, want)
	}
	st, err := r.Status(ctx, "t-ghost")
	if err != nil || st.State != rtapi.StateExited || st.ExitCode != 126 || !strings.Contains(st.Err, want) {
		t.Fatalf("status = %+v, %v; want exited 126 with %q", st, err, want)
	}
}

// TestPrepareUser: Prepare keeps the user as ParseUser writes it, refuses
// a malformed one, and leaves the agent's HOME to tasks that run as root.
func TestPrepareUser(t *testing.T) {
	t.Setenv("HOME", "/root-home")
	r := newRuntime(t, Config{})
	ctx := context.Background()
	for _, c := range []struct{ user, stored, home string }{
		{"", "", "/root-home"},
		{"007:nogroup", "7:nogroup", ""},
	} {
		spec := shTask("t-prep", "true")
		spec.TaskID = "t-prep" + strings.ReplaceAll(c.stored, ":", "-")
		spec.Spec.User = c.user
		if err := r.Prepare(ctx, spec); err != nil {
			t.Fatal(err)
		}
		var ls launchSpec
		if err := readJSON(filepath.Join(r.root, "tasks", spec.TaskID, specFile), &ls); err != nil {
			t.Fatal(err)
		}
		if ls.User != c.stored || envValue(ls.Env, "HOME") != c.home {
			t.Errorf("user %q: launch spec has user %q, HOME %q; want %q, %q", c.user, ls.User, envValue(ls.Env, "HOME"), c.stored, c.home)
		}
	}
	spec := shTask("t-bad", "true")
	spec.Spec.User = "a:b:c"
	if err := r.Prepare(ctx, spec); err == nil || !strings.Contains(err.Error(), `user "a:b:c" is not NAME`) {
		t.Errorf("prepare with a bad user: %v", err)
	}
}
