//go:build !unix

package middleware_test

// processCPU is not measured on this platform; CPU metrics read 0.
func processCPU() int64 { return 0 }
