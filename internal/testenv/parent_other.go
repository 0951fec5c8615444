//go:build !linux

package testenv

import "os"

// parentStderr returns nil: only Linux names the parent's files in /proc.
func parentStderr() *os.File { return nil }
