package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/notify"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	fs := newFlags("serve", stderr, &cfg)
	fs.BoolVar(&cfg.Demo, "demo", false, "load the demonstration region and allow moving the clock")
	fs.StringVar(&cfg.Addr, "addr", "", "listen address HOST:PORT (default 127.0.0.1:8080)")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "public address used in links sent to people (default $CAREGATE_BASE_URL)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", false, "trust X-Forwarded-For/-Proto from a load balancer (or CAREGATE_TRUST_PROXY=1)")
	fs.StringVar(&cfg.SMTPURL, "smtp-url", "", "mail server, smtp://user:password@host:587?tls=starttls|tls|none (default $CAREGATE_SMTP_URL; empty: messages stay in the outbox)")
	fs.StringVar(&cfg.MailFrom, "mail-from", "", "sender of e-mails (default $CAREGATE_MAIL_FROM, or "+strconv.Quote(notify.DefaultFrom)+")")
	adminEmail := fs.String("admin-email", "admin@caregate.invalid", "e-mail of the first administrator, on an empty database")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.FromEnv()
	if cfg.BaseURL == "" && cfg.Addr != "" && !strings.HasSuffix(cfg.Addr, ":0") {
		// Links in e-mails (invitations, set-up links) must be absolute:
		// without a configured public address, the listening address is
		// the best guess (right for the demo on this machine).
		cfg.BaseURL = "http://" + cfg.Addr
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if gc, limit := app.TuneMemory(); gc > 0 || limit > 0 {
		log.Info("garbage collector", "gc_percent", gc, "memory_limit_bytes", limit)
	}
	opts := app.Options{Log: log}
	if cfg.Demo {
		opts.DemoAccounts = demo.Accounts()
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.Demo {
		if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
			return err
		}
		if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
			return err
		}
		if err := demo.LoadTraining(ctx, a.DB, a.Training); err != nil {
			return err
		}
		if err := demo.LoadMembers(ctx, a.DB, a.Members); err != nil {
			return err
		}
		if err := demo.LoadPatients(ctx, a.DB, a.Record, demo.DemoPatients, 200, nil); err != nil {
			return err
		}
	}
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start background jobs: %w", err)
	}
	log.Info("e-mail: " + cfg.DescribeMail())
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	base := cfg.BaseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	fmt.Fprintf(stdout, "CareGate %s is running at %s/ (%s)\n", app.Version, base, cfg.Describe())
	if cfg.Demo {
		fmt.Fprintf(stdout, "Demo mode. Every demo account's password is %s; the security-code page shows the current code.\n", demo.Password)
		for _, acc := range demo.Accounts() {
			fmt.Fprintf(stdout, "  %-48s %s\n", acc.Role, acc.Email)
		}
	} else {
		link, err := a.FirstAdminLink(ctx, *adminEmail)
		if err != nil {
			return fmt.Errorf("first administrator: %w", userError(err))
		}
		if link != "" {
			fmt.Fprintf(stdout, "No accounts yet. Set up the first administrator (%s) within 24 hours at:\n%s/setup/%s\n", *adminEmail, base, link)
		}
	}
	srv := a.Server()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Before the database closes (a.Close): running jobs finish or are
	// cancelled to run again at the next start.
	if err := a.Jobs.Stop(shutdown); err != nil {
		log.Warn("stopping background jobs", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
