// Command widgetseed prepares the example service for load tests: it
// creates (or reuses) a user, gives it -n widgets of the quick start's
// shape ({"name":"widget <i>","color":"blue"}), and prints an access token
// for that user on stdout. Run it against the database the example uses,
// with the same JWT_SECRET:
//
//	go run ./bench/widgetseed -n 100000 > /tmp/token
//	go run ./examples/widgets &
//	wrk -t2 -c50 -d10s -H "Authorization: Bearer $(cat /tmp/token)" 'http://127.0.0.1:8000/widgets?limit=20'
//
// With -count it changes nothing and prints how many widgets the user owns
// (bench/compare.sh counts what a run created this way).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"appkernel"
	"appkernel/auth"
	"appkernel/db"
)

func main() {
	n := flag.Int("n", 100000, "widgets to give the user")
	email := flag.String("email", "bench@example.com", "the user's email")
	password := flag.String("password", "bench-password-123", "the user's password")
	name := flag.String("name", "widget_service", "the service name (the token issuer), as the example sets it")
	count := flag.Bool("count", false, "print the number of widgets the user owns and change nothing")
	flag.Parse()
	run := seed
	if *count {
		run = countWidgets
	}
	if err := run(context.Background(), *name, *n, *email, *password); err != nil {
		fmt.Fprintln(os.Stderr, "widgetseed:", err)
		os.Exit(1)
	}
}

// open starts the kernel of the example's database, quietly and without Redis.
// The caller must close it.
func open(ctx context.Context, name string) (*appkernel.Kernel, error) {
	cfg, err := appkernel.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	cfg.Name = name
	cfg.RedisURL = ""
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return appkernel.New(ctx, cfg)
}

func countWidgets(ctx context.Context, name string, _ int, email, _ string) error {
	k, err := open(ctx, name)
	if err != nil {
		return err
	}
	defer k.Close()
	u, err := k.Auth().GetUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	n, err := k.DB().CountEntities(ctx, "widgets", "[owner_id] = ?", u.ID)
	if err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

func seed(ctx context.Context, name string, n int, email, password string) error {
	k, err := open(ctx, name)
	if err != nil {
		return err
	}
	defer k.Close()
	store := k.DB()
	if err := store.EnsureIndex(ctx, "widgets", []string{"owner_id", "created_at", "id"}, false); err != nil {
		return err
	}

	u, err := k.Auth().GetUserByEmail(ctx, email)
	if err != nil {
		u, err = k.Auth().CreateUser(ctx, auth.CreateUserInput{Email: email, Password: password})
	}
	if err != nil {
		return err
	}
	have, err := store.CountEntities(ctx, "widgets", "[owner_id] = ?", u.ID)
	if err != nil {
		return err
	}
	start := time.Now()
	const batch = 1000
	for i := int(have); i < n; i += batch {
		err := store.Tx(ctx, func(tx *db.Store) error {
			for j := i; j < i+batch && j < n; j++ {
				if _, err := tx.SaveEntity(ctx, "widgets", map[string]any{
					"owner_id": u.ID, "name": fmt.Sprintf("widget %d", j), "color": "blue",
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "widgetseed: %s has %d widgets (%d added in %s)\n", email, max(n, int(have)), max(0, n-int(have)), time.Since(start).Round(time.Millisecond))

	tok, err := k.Auth().Login(ctx, auth.LoginInput{Email: email, Password: password, ClientIP: "127.0.0.1"})
	if err != nil {
		return errors.Join(errors.New("login"), err)
	}
	fmt.Println(tok.AccessToken)
	return nil
}
