package appkernel

// MetricsAddrOf returns the address k's /metrics listener is bound to, ""
// before it listens (for tests that ask for port 0).
func MetricsAddrOf(k *Kernel) string {
	s, _ := k.metricsAddr.Load().(string)
	return s
}
