// Command couponsd is mkt's coupon daemon; see `couponsd --help`.
package main

import (
	"context"
	"os"

	"mkt/pkg/couponsd"
	"mkt/pkg/daemon/daemoncmd"
)

func main() {
	os.Exit(daemoncmd.Main(context.Background(), couponsd.Spec(), os.Args[1:]))
}
