package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"mkt/pkg/login"
)

// LoginStream says which member logs in as the i-th event.
type LoginStream struct {
	// Next returns the member of event i.
	Next func(i int64) int64
	// Total is the events, 0 = until the context ends.
	Total int64
}

// PublishLogins publishes the stream in batches from senders goroutines,
// at most perSecond events per second (0 = unlimited), and returns how
// many were published. sent, if not nil, counts them as they go.
func PublishLogins(ctx context.Context, pub login.Publisher, s LoginStream, perSecond float64, batch, senders int, sent *atomic.Int64) (int64, error) {
	var lim *rate.Limiter
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), max(batch, int(perSecond/10)))
	}
	if sent == nil {
		sent = new(atomic.Int64)
	}
	var idx, published atomic.Int64
	// sendOne publishes the next batch; false when the stream is done.
	sendOne := func(ctx context.Context, evs []login.Event) (bool, error) {
		evs = evs[:0]
		for len(evs) < batch {
			i := idx.Add(1) - 1
			if s.Total > 0 && i >= s.Total {
				break
			}
			evs = append(evs, fakeLogin(s.Next(i), time.Now()))
		}
		if len(evs) == 0 {
			return false, nil
		}
		if lim != nil {
			if err := lim.WaitN(ctx, len(evs)); err != nil {
				return false, err
			}
		}
		if err := pub.Publish(ctx, evs...); err != nil {
			return false, err
		}
		sent.Add(int64(len(evs)))
		published.Add(int64(len(evs)))
		return true, nil
	}
	// One batch alone first: the RocketMQ client loses the topic route when
	// a fresh producer's first sends race ("route info not found").
	if more, err := sendOne(ctx, make([]login.Event, 0, batch)); err != nil || !more {
		return published.Load(), err
	}
	g, gctx := errgroup.WithContext(ctx)
	for range senders {
		g.Go(func() error {
			evs := make([]login.Event, 0, batch)
			for {
				more, err := sendOne(gctx, evs)
				if err != nil || !more {
					return err
				}
			}
		})
	}
	err := g.Wait()
	return published.Load(), err
}

var loginChannels = login.Channels()
var loginPlatforms = map[login.Channel][]string{
	login.ChannelApp: {"ios", "android"}, login.ChannelWeb: {"windows", "macos", "linux"},
	login.ChannelH5: {"ios", "android"}, login.ChannelMiniProgram: {"ios", "android"},
}

// fakeLogin is a login event with the context an account system sends.
func fakeLogin(member int64, at time.Time) login.Event {
	var id [8]byte
	_, _ = crand.Read(id[:])
	ch := loginChannels[rand.IntN(len(loginChannels))]
	plats := loginPlatforms[ch]
	ip := netip.AddrFrom4([4]byte{byte(1 + rand.IntN(223)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
	return login.Event{
		MemberID:   member,
		LoginAt:    at.UTC(),
		EventID:    hex.EncodeToString(id[:]),
		Channel:    ch,
		Platform:   plats[rand.IntN(len(plats))],
		DeviceID:   fmt.Sprintf("dev-%d-%d", member, rand.IntN(3)),
		AppVersion: "8.3." + fmt.Sprint(rand.IntN(5)),
		IP:         ip.String(),
	}
}
