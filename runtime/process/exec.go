package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWorkload starts ls.Argv in its own process group with stdin from
// /dev/null and stdout and stderr on one pipe, whose read end it returns.
// With an identity (ls.User, resolved) it runs as that user, its groups
// and its HOME; the caller gave it the work dir. Errors are *startError
// with the exit code the task gets for them.
func startWorkload(ls launchSpec, id *identity) (*os.Process, *os.File, error) {
	if fi, err := os.Stat(ls.Dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, nil, &startError{126, fmt.Errorf("work dir %s: %w", ls.Dir, err)}
	}
	path, err := lookPath(ls.Argv[0], envValue(ls.Env, "PATH"), ls.Dir)
	if err != nil {
		return nil, nil, err
	}
	if strings.Contains(ls.Argv[0], "/") && !filepath.IsAbs(ls.Argv[0]) {
		path = ls.Argv[0] // relative to the work dir, entered first
	}
	// The workload enters its work dir through this descriptor: a user
	// may not search the root-only directories above it.
	dir, err := os.OpenFile(ls.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &startError{126, fmt.Errorf("work dir %s: %w", ls.Dir, err)}
	}
	defer dir.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, &startError{126, err}
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, &startError{126, err}
	}
	defer pw.Close()
	env, sys := ls.Env, &syscall.SysProcAttr{Setpgid: true}
	files := []*os.File{devnull, pw, pw}
	if id != nil {
		env, sys.Credential = withHome(env, id.Home), id.credential()
		var secrets *os.File
		if env, secrets, err = secretsByDescriptor(env); err != nil {
			return nil, nil, &startError{126, err}
		}
		if secrets != nil {
			defer secrets.Close()
			files = append(files, secrets)
		}
	}
	proc, err := os.StartProcess(path, ls.Argv, &os.ProcAttr{
		Dir:   "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())),
		Env:   env,
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		pr.Close()
		code := 126
		if errors.Is(err, fs.ErrNotExist) {
			code = 127
		}
		return nil, nil, &startError{code, fmt.Errorf("start %s: %w", ls.Argv[0], err)}
	}
	return proc, pr, nil
}

// lookPath finds the executable for name: a name with a slash is taken as
// is (relative to dir), a bare name is searched in the absolute directories
// of pathList. A missing command gives exit code 127, one that cannot be
// run 126.
func lookPath(name, pathList, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", commandError(name, err)
		}
		return p, nil
	}
	var denied error
	for _, d := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", commandError(name, denied)
	}
	return "", &startError{127, fmt.Errorf("command %q not found in PATH %q", name, pathList)}
}

func commandError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &startError{127, fmt.Errorf("command %q not found", name)}
	}
	return &startError{126, fmt.Errorf("command %q cannot be run: %w", name, err)}
}

// checkExecutable accepts a regular file with an execute bit.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// envValue returns the value of key in a KEY=VALUE list (last one wins).
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
