package appkernel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"appkernel"
)

// An app registers its own collectors on the kernel's registry; with
// METRICS_ADDR set they are served on /metrics beside the kernel's.
func ExampleKernel_Metrics() {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	cfg.MetricsAddr = ":9090" // served by ListenAndServe, Run and RunWorker
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	defer k.Close()

	signups := prometheus.NewCounter(prometheus.CounterOpts{Name: "myservice_signups_total", Help: "Accounts created."})
	k.Metrics().MustRegister(signups)
	signups.Inc()

	families, _ := k.Metrics().Gather()
	for _, f := range families {
		if f.GetName() == "myservice_signups_total" {
			fmt.Println(f.GetName(), f.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output: myservice_signups_total 1
}
