package appkernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenAndServe serves the kernel on addr until ctx is done (wire ctx to
// SIGINT/SIGTERM with signal.NotifyContext), then shuts down gracefully:
// it stops accepting, and lets in-flight requests and the embedded
// worker's running jobs finish, all within one Config.ShutdownTimeout;
// connections still busy after it are closed. The caller still calls
// Close, which closes the pools.
func (k *Kernel) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("appkernel: listen on %s: %w", addr, err)
	}
	return k.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener.
func (k *Kernel) Serve(ctx context.Context, ln net.Listener) error {
	stopMetrics, err := k.startMetrics()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: k,
		// A client may not trickle a request: headers within 10 s, the
		// whole request (bodies are at most MaxBodyBytes) within 30 s.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	k.log.Info("listening", "addr", ln.Addr().String(), "service", k.cfg.Name)
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("appkernel: serve: %w", err), stopMetrics(ctx))
	case <-ctx.Done():
	}
	k.log.Info("shutting down", "timeout_ms", k.cfg.ShutdownTimeout.Milliseconds())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ShutdownTimeout)
	defer cancel()
	workerDone := make(chan error, 1)
	if k.stopWorker != nil {
		go func() { workerDone <- k.stopWorker(sctx) }()
	} else {
		workerDone <- nil
	}
	err = srv.Shutdown(sctx)
	if err != nil {
		// Past the deadline: cut the connections still busy.
		err = errors.Join(err, srv.Close())
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if werr := <-workerDone; werr != nil {
		err = errors.Join(err, fmt.Errorf("stopping the job worker: %w", werr))
	}
	if merr := stopMetrics(sctx); merr != nil {
		err = errors.Join(err, fmt.Errorf("stopping the metrics listener: %w", merr))
	}
	if err != nil {
		return fmt.Errorf("appkernel: shutdown: %w", err)
	}
	k.log.Info("stopped")
	return nil
}
