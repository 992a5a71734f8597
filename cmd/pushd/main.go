// Command pushd is mkt's push daemon; see `pushd --help`.
package main

import (
	"context"
	"os"

	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/pushd"
)

func main() {
	os.Exit(daemoncmd.Main(context.Background(), pushd.Spec(), os.Args[1:]))
}
