// Command caregate runs the CareGate server and its maintenance tasks.
//
//	caregate serve [--demo] [--data DIR] [--addr HOST:PORT] [--database-url URL]
//	caregate migrate [--data DIR | --database-url URL]
//	caregate user create-admin --email EMAIL [--data DIR | --database-url URL]
//	caregate token create --user EMAIL [--name NAME] [--data DIR | --database-url URL]
//	caregate audit verify [--data DIR | --database-url URL]
//	caregate launch-token --key JWK --iss ID --user EMAIL --org ODS --patient NHS | --new-key FILE
//	caregate version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: caregate COMMAND [flags]

Commands:
  serve                 run the server (--demo for a populated demonstration region)
  migrate               apply database migrations
  user create-admin     create a system administrator
  token create          create an API token for an account
  audit verify          check that the audit trail is complete and unaltered
  launch-token          sign a contextual-launch token with a clinical system's key (or --new-key)
  version               print the version

Run 'caregate COMMAND -h' for a command's flags.
`

// run executes one command and returns the process exit code; tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	sub := ""
	if len(args) > 1 {
		sub = args[1]
	}
	var err error
	switch {
	case args[0] == "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case args[0] == "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case args[0] == "user" && sub == "create-admin":
		err = createAdmin(ctx, args[2:], stdin, stdout, stderr)
	case args[0] == "token" && sub == "create":
		err = createToken(ctx, args[2:], stdout, stderr)
	case args[0] == "audit" && sub == "verify":
		err = auditVerify(ctx, args[2:], stdout, stderr)
	case args[0] == "launch-token":
		err = launchToken(args[1:], stdout, stderr)
	case args[0] == "version" || args[0] == "--version":
		err = version(stdout)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "caregate: unknown command %q\n\n%s", joinArgs(args), usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "caregate: %v\n", err)
		return 1
	}
	return 0
}

func joinArgs(a []string) string {
	if len(a) > 1 && len(a[1]) > 0 && a[1][0] != '-' {
		return a[0] + " " + a[1]
	}
	return a[0]
}
