package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/record"
)

// launchToken signs a contextual-launch token with a clinical system's
// private key, for testing and for partners integrating: the clinical
// system posts it as the form field launch_token to /launch. With
// --new-key it makes a key pair instead: the private JWK goes to the file,
// the public JWKS (to register for the clinical system) to standard output.
func launchToken(args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	fs := newFlags("launch-token", stderr, &cfg)
	newKey := fs.String("new-key", "", "make an ES256 key pair: write the private JWK to this file and print the public JWKS")
	keyFile := fs.String("key", "", "the clinical system's private key, a JWK file (required to sign)")
	iss := fs.String("iss", "", "the clinical system's id, as registered (iss)")
	user := fs.String("user", "", "the user's e-mail address or record user name (sub)")
	ods := fs.String("org", "", "the user's organisation's ODS code (org)")
	patient := fs.String("patient", "", "the patient's NHS number (patient)")
	aud := fs.String("aud", "caregate", "the audience the record expects (aud)")
	ttl := fs.Duration("ttl", 5*time.Minute, "how long the token is valid (at most 5m)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *newKey != "" {
		priv, pub, err := record.NewSigningKey()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*newKey, priv, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", pub)
		return nil
	}
	if *keyFile == "" || *iss == "" || *user == "" || *ods == "" || *patient == "" {
		fmt.Fprintln(stderr, "caregate launch-token: --key, --iss, --user, --org and --patient are required")
		return errUsage
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	tok, err := record.Sign(key, record.NewLaunchClaims(*iss, *user, *ods, *patient, *aud, time.Now().UTC(), *ttl))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
