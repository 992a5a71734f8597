package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"mkt/pkg/membership"
	"mkt/pkg/store"
)

// componentStatus is one line of `mktctl status`.
type componentStatus struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type statusReport struct {
	Components []componentStatus `json:"components"`
	Schema     struct {
		Applied int `json:"applied"`
		Total   int `json:"total"`
	} `json:"schema"`
	Members int64 `json:"members"`
	OK      bool  `json:"ok"`
}

type statusOptions struct{}

func newStatusCmd(app *App, runF func(*statusOptions) error) *cobra.Command {
	o := &statusOptions{}
	return &cobra.Command{
		Use:   "status",
		Short: "Check MySQL, Redis and RocketMQ, the schema and the member base",
		Long: `status reaches every dependency with a short timeout and reports the schema
version and the member count. It exits 3 when a dependency cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, nil, runF, runStatus),
	}
}

func runStatus(ctx context.Context, app *App, _ *statusOptions) error {
	rep := collectStatus(ctx, app)
	var err error
	if app.JSON {
		err = writeJSON(app.Out, rep)
	} else {
		err = writeStatus(app.Out, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%w: not every dependency is reachable", ErrUnavailable)
	}
	return nil
}

// writeStatus prints `status`: a table of the dependencies, then the schema
// and the member count.
func writeStatus(w io.Writer, rep statusReport) error {
	rows := [][]string{{"COMPONENT", "ADDRESS", "STATE", "DETAIL"}}
	for _, c := range rep.Components {
		state := "ok"
		if !c.OK {
			state = "DOWN"
		}
		rows = append(rows, []string{c.Name, c.Addr, state, c.Detail})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nschema: %d/%d migrations applied\nmembers: %d\n",
		rep.Schema.Applied, rep.Schema.Total, rep.Members)
	return nil
}

func collectStatus(ctx context.Context, app *App) statusReport {
	var rep statusReport
	rep.OK = true
	add := func(c componentStatus) {
		rep.OK = rep.OK && c.OK
		rep.Components = append(rep.Components, c)
	}

	// MySQL: reachable, schema, members.
	mysqlStatus := componentStatus{Name: "mysql", Addr: dsnAddr(string(app.Common.MySQLDSN))}
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	db, err := app.DB(pingCtx)
	cancel()
	if err != nil {
		mysqlStatus.Detail = err.Error()
	} else {
		mysqlStatus.OK = true
		mysqlStatus.Detail = "database " + db.Name()
		if ms, err := store.MigrationStatus(ctx, db); err == nil {
			rep.Schema.Total = len(ms)
			for _, m := range ms {
				if m.Applied {
					rep.Schema.Applied++
				}
			}
		}
		if rep.Schema.Applied > 0 {
			if n, err := membership.Count(ctx, db); err == nil {
				rep.Members = n
			}
		}
	}
	add(mysqlStatus)

	// Redis: PING.
	redisStatus := componentStatus{Name: "redis", Addr: app.Common.RedisAddr}
	rc := redis.NewClient(&redis.Options{
		Addr:        app.Common.RedisAddr,
		Password:    string(app.Common.RedisPassword),
		DB:          app.Common.RedisDB,
		DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second,
	})
	if err := rc.Ping(ctx).Err(); err != nil {
		redisStatus.Detail = err.Error()
	} else {
		redisStatus.OK = true
		redisStatus.Detail = "PONG"
	}
	_ = rc.Close()
	add(redisStatus)

	// RocketMQ: the name server(s) and the broker accept connections.
	for _, ns := range strings.Split(app.Common.RocketMQNameServer, ";") {
		add(dialStatus(ctx, "rocketmq name server", strings.TrimSpace(ns)))
	}
	add(dialStatus(ctx, "rocketmq broker", app.Common.RocketMQBroker))
	return rep
}

func dialStatus(ctx context.Context, name, addr string) componentStatus {
	c := componentStatus{Name: name, Addr: addr}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	_ = conn.Close()
	c.OK = true
	c.Detail = "accepting connections"
	return c
}

// dsnAddr returns host:port of a MySQL DSN without its credentials.
func dsnAddr(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	rest := dsn[at+1:]
	if i := strings.Index(rest, "("); i >= 0 {
		if j := strings.Index(rest[i:], ")"); j >= 0 {
			return rest[i+1 : i+j]
		}
	}
	return "?"
}
