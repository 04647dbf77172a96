package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/caregate/caregate/internal/app"
)

func version(stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "caregate %s (%s)\n", app.Version, runtime.Version())
	return err
}
