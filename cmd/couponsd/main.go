// Command couponsd is mkt's coupon daemon; see `couponsd --help`.
package main

import (
	"context"
	"os"

	"mkt/pkg/couponsd"
	"mkt/pkg/deps"
)

func main() {
	os.Exit(deps.Main(context.Background(), couponsd.Spec(), os.Args[1:]))
}
