package appkernel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"appkernel"
	"appkernel/jobs"
)

// A service's whole main: the environment configures it, setup adds the
// app's routes and tasks, `myservice` serves on PORT and `myservice
// worker` runs the job worker, both until SIGINT or SIGTERM.
func ExampleMain() {
	setup := func(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
		k.Router().Get("/hello", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello\n")
		})
		tasks.Task("process_document", jobs.Typed(func(ctx context.Context, job *jobs.Job, p struct{ ID string }) (any, error) {
			doc, err := job.Store().GetEntity(ctx, "documents", p.ID)
			if err != nil {
				return nil, err
			}
			doc["status"] = "processed"
			_, err = job.Store().SaveEntity(ctx, "documents", doc)
			return nil, err
		}))
		return nil
	}
	appkernel.Main("hello_service", setup) // in func main()
}

// Run is Main with the configuration in hand and the arguments given: it
// builds the kernel, calls Config.Setup, serves on Config.Addr until ctx is
// done, then shuts down gracefully.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "appkernel-example")
	defer os.RemoveAll(dir)
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // a free port for the example
	addr := ln.Addr().String()
	ln.Close()

	cfg := appkernel.DefaultConfig() // Main: appkernel.ConfigFromEnv()
	cfg.Name = "hello_service"
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(dir, "app.db"))
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.Addr = addr // Main: ":" + PORT
	cfg.Setup = func(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
		k.Router().Get("/hello", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello from "+k.Config().Name)
		})
		return nil
	}

	ctx, stop := context.WithCancel(context.Background()) // Main: SIGINT, SIGTERM
	go func() {
		defer stop()
		for range 200 {
			res, err := http.Get("http://" + addr + "/hello")
			if err != nil {
				time.Sleep(25 * time.Millisecond)
				continue
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			fmt.Println(res.StatusCode, string(body))
			return
		}
	}()
	err := appkernel.Run(ctx, cfg, nil) // nil: serve; []string{"worker"}: the job worker
	fmt.Println("stopped:", err)
	// Output:
	// 200 hello from hello_service
	// stopped: <nil>
}
