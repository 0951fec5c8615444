// Command pocketbase is the peer of bench/compare.sh: PocketBase, imported
// as a library, serving the quick start's widget as its "posts"
// collection, so that both sides of each comparison do the same work.
//
//   - posts has name (required, at most 200 characters), color (1 to 32
//     letters, "blue" when left out, stored lower-case) and owner, set from
//     the signed-in user like the example's owner_id; created and updated
//     are filled in on save.
//   - A signed-in user creates posts and lists and reads only their own,
//     through an index on (owner, created, id) like the example's on
//     (owner_id, created_at, id).
//   - One user, -email / -password, owns the -seed posts made before it
//     serves.
//
// It is a module of its own, so the library never depends on PocketBase:
//
//	cd bench/pocketbase && go run . -seed 100000 -http 127.0.0.1:8090 -dir "$(mktemp -d)"
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
)

// options are the command's flags.
type options struct {
	dir, addr       string
	email, password string
	seed            int
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "", "data directory (required; a fresh one measures a fresh database)")
	flag.StringVar(&o.addr, "http", "127.0.0.1:8090", "listen address")
	flag.StringVar(&o.email, "email", "bench@example.com", "the user who owns the seeded posts")
	flag.StringVar(&o.password, "password", "bench-password-123", "that user's password")
	flag.IntVar(&o.seed, "seed", 0, "posts the user owns before serving")
	flag.Parse()
	if o.dir == "" || o.seed < 0 {
		fmt.Fprintln(os.Stderr, "pocketbase: -dir is required and -seed must not be negative")
		os.Exit(2)
	}

	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDataDir: o.dir})
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		if err := prepare(e.App, o); err != nil {
			return err
		}
		return e.Next()
	})
	// The example sets owner_id from the token and defaults the color;
	// PocketBase does the same here, before its own validation and save.
	app.OnRecordCreateRequest("posts").BindFunc(func(e *core.RecordRequestEvent) error {
		if e.Auth != nil {
			e.Record.Set("owner", e.Auth.Id)
		}
		switch color := e.Record.GetString("color"); {
		case color == "":
			e.Record.Set("color", "blue")
		case strings.IndexFunc(color, func(r rune) bool { return r > 0x7f }) < 0:
			// Only ASCII is lower-cased: "\u212a" (Kelvin) would become "k".
			e.Record.Set("color", strings.ToLower(color))
		}
		return e.Next()
	})
	// PocketBase reads its own command line: serve with the flags above.
	os.Args = []string{os.Args[0], "serve", "--http", o.addr, "--dir", o.dir}
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// prepare makes the posts collection, the user and the seeded posts when
// they are not there yet.
func prepare(app core.App, o options) error {
	posts, err := app.FindCollectionByNameOrId("posts")
	if err != nil {
		if posts, err = createPosts(app); err != nil {
			return fmt.Errorf("posts collection: %w", err)
		}
	}
	user, err := app.FindAuthRecordByEmail("users", o.email)
	if err != nil {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		user = core.NewRecord(users)
		user.SetEmail(o.email)
		user.SetPassword(o.password)
		user.SetVerified(true)
		if err := app.Save(user); err != nil {
			return fmt.Errorf("user %s: %w", o.email, err)
		}
	}
	have, err := app.CountRecords(posts, dbx.HashExp{"owner": user.Id})
	if err != nil {
		return err
	}
	if int(have) >= o.seed {
		return nil
	}
	err = app.RunInTransaction(func(tx core.App) error {
		for i := int(have); i < o.seed; i++ {
			p := core.NewRecord(posts)
			p.Set("name", fmt.Sprintf("widget %d", i))
			p.Set("color", "blue")
			p.Set("owner", user.Id)
			if err := tx.Save(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	log.Printf("%s owns %d posts", o.email, o.seed)
	return nil
}

func createPosts(app core.App) (*core.Collection, error) {
	c := core.NewBaseCollection("posts")
	c.Fields.Add(
		&core.TextField{Name: "name", Required: true, Max: 200},
		&core.TextField{Name: "color", Max: 32, Pattern: `^[A-Za-z]+$`},
		&core.TextField{Name: "owner", Required: true},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	signedIn, own := "@request.auth.id != ''", "owner = @request.auth.id"
	c.CreateRule, c.ListRule, c.ViewRule = &signedIn, &own, &own
	c.AddIndex("idx_posts_owner_created", false, "`owner`, `created`, `id`", "")
	return c, app.Save(c)
}
