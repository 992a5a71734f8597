// Command pushd is mkt's push daemon; see `pushd --help`.
package main

import (
	"context"
	"os"

	"mkt/pkg/deps"
	"mkt/pkg/pushd"
)

func main() {
	os.Exit(deps.Main(context.Background(), pushd.Spec(), os.Args[1:]))
}
