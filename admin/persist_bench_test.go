package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"appkernel/admin"
)

// benchEvents are n request events spread over 50 users of 10
// workspaces, like a service's traffic.
func benchEvents(n int) []admin.Event {
	events := make([]admin.Event, n)
	for i := range events {
		events[i] = requestEvent(fmt.Sprintf("u%d", i%50), fmt.Sprintf("w%d", i%10))
	}
	return events
}

// benchmarkPersist persists b.N events in batches of batch and reports
// events/s. A batch of 1 is the plain alternative: one transaction and
// one row per event.
func benchmarkPersist(b *testing.B, dialect string, batch int) {
	store := openStore(b, dialect)
	ctx := context.Background()
	events := benchEvents(b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(events); i += batch {
		if err := admin.Persist(ctx, store, events[i:min(i+batch, len(events))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkPersistSQLite(b *testing.B)           { benchmarkPersist(b, "sqlite", 500) }
func BenchmarkPersistPostgres(b *testing.B)         { benchmarkPersist(b, "postgres", 500) }
func BenchmarkPersistMySQL(b *testing.B)            { benchmarkPersist(b, "mysql", 500) }
func BenchmarkPersistOneByOneSQLite(b *testing.B)   { benchmarkPersist(b, "sqlite", 1) }
func BenchmarkPersistOneByOnePostgres(b *testing.B) { benchmarkPersist(b, "postgres", 1) }
