package testenv

import (
	"os"
	"strconv"
	"syscall"
)

// parentStderr opens the parent process's standard error for writing, or
// returns nil. It opens with syscall rather than os so that the go
// command's test cache does not record the file (a path naming a process
// id would make every run a cache miss).
func parentStderr() *os.File {
	path := "/proc/" + strconv.Itoa(os.Getppid()) + "/fd/2"
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), path)
}
