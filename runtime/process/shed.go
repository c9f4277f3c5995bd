package process

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// shedStartupPages gives back memory the keeper only needed to start: the
// heap that package initialisation of the whole shoal binary left free,
// and its mappings of the executable's code and read-only data, most of
// which only that initialisation touched. The read-only mappings are
// private and never written, so dropping them only unmaps page-cache
// pages (which the agent maps too); the few the keeper goes on using are
// mapped again on first touch.
func shedStartupPages() {
	debug.FreeOSMemory()
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || len(f[1]) != 4 || f[1][1] == 'w' || f[1][3] != 'p' {
			continue
		}
		if ino, err := strconv.ParseUint(string(f[4]), 10, 64); err != nil || ino != exe.Ino {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
