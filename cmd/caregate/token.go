package main

import (
	"context"
	"fmt"
	"io"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/auth"
)

// createToken issues an API token; the token is alone on the last line so
// that scripts can take it with `tail -n 1`.
func createToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	fs := newFlags("token create", stderr, &cfg)
	email := fs.String("user", "", "e-mail address of the account the token acts as (required)")
	name := fs.String("name", "command line", "what the token is for")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(stderr, "caregate token create: --user is required")
		return errUsage
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	l, users, _ := app.Services(db, nil, auth.Config{})
	defer l.Close()
	u, err := users.UserByEmail(ctx, *email)
	if err != nil {
		return userError(err)
	}
	secret, tok, err := users.CreateToken(ctx, cliWho(), u.ID, *name)
	if err != nil {
		return userError(err)
	}
	fmt.Fprintf(stdout, "Created API token %q (id %s) for %s. It is shown only once:\n%s\n", tok.Name, tok.ID, u.Email, secret)
	return nil
}
