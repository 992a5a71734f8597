//go:build !linux

package childproc

import "syscall"

// sysProcAttr: only Linux offers the process-group and parent-death
// settings used there; elsewhere the child shares the parent's defaults.
func sysProcAttr() *syscall.SysProcAttr { return nil }
