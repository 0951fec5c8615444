//go:build !unix

package testenv

// ProcessCPU is not measured on this platform; CPU metrics read 0.
func ProcessCPU() int64 { return 0 }
