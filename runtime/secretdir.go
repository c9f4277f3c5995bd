package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sizes of a secret tmpfs: each file takes whole pages, plus some room.
const (
	secretPage  = 4 << 10
	secretSlack = 64 << 10
)

// MountSecretDir puts secrets on a fresh tmpfs mounted on dir, so that
// they never reach a disk: it creates dir (its parent must exist), mounts
// a tmpfs on it (nosuid, nodev, noexec, mode 0700, sized for the files,
// and kept out of swap where the kernel allows it), writes each secret as
// a file of mode 0400, then makes dir mode 0500. Files and dir are owned
// by uid:gid. A tmpfs already on dir (an earlier call) is replaced. On
// error nothing is left mounted. Mounting needs root (CAP_SYS_ADMIN).
func MountSecretDir(dir string, secrets []Secret, uid, gid int) error {
	if err := CheckSecretNames(secrets); err != nil {
		return err
	}
	if err := UnmountSecretDir(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create secrets dir: %w", err)
	}
	if err := mountTmpfs(dir, secretFSSize(secrets)); err != nil {
		os.Remove(dir)
		return fmt.Errorf("secrets need a tmpfs mount (run the agent as root): %w", err)
	}
	if err := fillSecretDir(dir, secrets, uid, gid); err != nil {
		if uerr := UnmountSecretDir(dir); uerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, uerr)
		}
		return err
	}
	return nil
}

// UnmountSecretDir detaches whatever is mounted on dir (MNT_DETACH, so a
// process still using it does not stop the removal) and removes dir. A
// missing dir is not an error; nor is one with nothing mounted on it,
// which needs no privilege.
func UnmountSecretDir(dir string) error {
	for i := 0; mountPoint(dir); i++ {
		if i == 16 {
			return fmt.Errorf("unmount secrets %s: still mounted after %d unmounts", dir, i)
		}
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount secrets %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove secrets dir: %w", err)
	}
	return nil
}

// mountTmpfs mounts a tmpfs of size bytes on dir; "noswap" (Linux 6.4+)
// is dropped on kernels that do not know it.
func mountTmpfs(dir string, size int64) error {
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	data := fmt.Sprintf("mode=0700,size=%d", size)
	err := unix.Mount("tmpfs", dir, "tmpfs", flags, data+",noswap")
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mount("tmpfs", dir, "tmpfs", flags, data)
	}
	return err
}

// secretFSSize is the tmpfs size for secrets: their files' pages plus
// secretSlack.
func secretFSSize(secrets []Secret) int64 {
	size := int64(secretSlack)
	for _, s := range secrets {
		size += (int64(len(s.Data)) + secretPage - 1) / secretPage * secretPage
	}
	return size
}

// fillSecretDir writes the secrets into dir and makes it read-only.
func fillSecretDir(dir string, secrets []Secret, uid, gid int) error {
	for _, s := range secrets {
		if err := writeSecret(filepath.Join(dir, s.Name), s.Data, uid, gid); err != nil {
			return fmt.Errorf("secret %s: %w", s.Name, err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	return nil
}

// writeSecret creates path (mode 0400, owned by uid:gid) with data.
func writeSecret(path string, data []byte, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o400)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mountPoint reports whether something is mounted on dir: it lies on
// another device than its parent (a tmpfs always does).
func mountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(dir, &st) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
