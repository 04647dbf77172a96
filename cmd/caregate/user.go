package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
)

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// createAdmin makes a system administrator. With a password on standard
// input (a script) the account is ready to sign in and enrol MFA; at a
// terminal it prints a one-time set-up link instead, so that the password
// never passes through the command line or shell history.
func createAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg app.Config
	fs := newFlags("user create-admin", stderr, &cfg)
	email := fs.String("email", "", "the administrator's e-mail address (required)")
	given := fs.String("given-name", "System", "first name")
	family := fs.String("family-name", "Administrator", "last name")
	baseURL := fs.String("base-url", "", "public address for the set-up link (default $CAREGATE_BASE_URL or http://127.0.0.1:8080)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(stderr, "caregate user create-admin: --email is required")
		return errUsage
	}
	password := ""
	if !isTerminal(stdin) {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("standard input is not a terminal but holds no password; pipe the password in, or run at a terminal to get a set-up link")
		}
		if why := auth.CheckPasswordStrength(password, *email, *given, *family); why != "" {
			return errors.New(why)
		}
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	l, users, _ := app.Services(db, nil, auth.Config{})
	defer l.Close()
	u, err := users.CreateUser(ctx, cliWho(), auth.NewUser{Email: *email, GivenName: *given, FamilyName: *family,
		Roles: []string{auth.RoleAdmin}, Password: password})
	if err != nil {
		return userError(err)
	}
	if password != "" {
		fmt.Fprintf(stdout, "Created administrator %s. Sign in with the password given; you will set up an authenticator app at first sign-in.\n", u.Email)
		return nil
	}
	token, err := users.CreateSetupLink(ctx, cliWho(), u.ID)
	if err != nil {
		return userError(err)
	}
	base := *baseURL
	if base == "" {
		base = os.Getenv("CAREGATE_BASE_URL")
	}
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	fmt.Fprintf(stdout, "Created administrator %s. Open this one-time link within 24 hours to choose a password:\n%s/setup/%s\n",
		u.Email, strings.TrimSuffix(base, "/"), token)
	return nil
}

// cliWho is the audit identity of an operator at the command line.
func cliWho() audit.Who {
	who := audit.Who{UserID: "cli", Email: "command-line", UserAgent: "caregate-cli"}
	if u := os.Getenv("USER"); u != "" {
		who.Email = "command-line:" + u
	}
	return who
}

// userError turns a domain error into a message with the field problems.
func userError(err error) error {
	e := errs.As(err)
	if e.Code == errs.Internal {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += "\n  --" + strings.ReplaceAll(f.Field, "_", "-") + ": " + f.Message
	}
	return errors.New(msg)
}
