package childproc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Memory is a process's resident memory as the kernel accounts it.
type Memory struct {
	// RSS is the resident set size now (VmRSS).
	RSS uint64 `json:"rss_bytes"`
	// PeakRSS is the highest resident set size since the process started
	// (VmHWM, the "high water mark").
	PeakRSS uint64 `json:"rss_peak_bytes"`
}

// ProcessMemory reads VmRSS and VmHWM of process pid from
// /proc/<pid>/status (Linux only).
func ProcessMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, fmt.Errorf("childproc: read memory of process %d: %w", pid, err)
	}
	var m Memory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.PeakRSS
		default:
			continue
		}
		// "   123456 kB"
		f := bytes.Fields(val)
		if len(f) != 2 || string(f[1]) != "kB" {
			return Memory{}, fmt.Errorf("childproc: process %d: unexpected %s line %q", pid, key, sc.Text())
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("childproc: process %d: %s: %w", pid, key, err)
		}
		*dst = kb << 10
		found++
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("childproc: process %d: VmRSS or VmHWM missing from /proc status", pid)
	}
	return m, nil
}
