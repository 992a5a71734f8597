// Command mktctl is mkt's operator command line; see `mktctl --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"mkt/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.StdStreams())
	stop()
	os.Exit(code)
}
