//go:build unix

package testenv

import "syscall"

// ProcessCPU returns the CPU time (user + system) the whole process has
// used, in nanoseconds: the benchmark goroutine plus the garbage collector
// and the rest of the runtime. Unlike wall time it does not count the time
// other processes on a shared machine hold the CPU.
func ProcessCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
