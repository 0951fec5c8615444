package flags

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings of the Redis subscription.
const (
	// subscribeTimeout bounds the wait for Redis to confirm a subscription.
	subscribeTimeout = 5 * time.Second
	// pingEvery is how long a quiet subscription waits before checking
	// its connection with a PING.
	pingEvery = 10 * time.Second
	// retryMax caps the pause between attempts to subscribe again.
	retryMax = 5 * time.Second
)

// listen keeps a subscription to the channel: every notice reloads the
// flags. When the subscription is lost (Redis went away) the Service falls
// back to reloading every TTL (see poll) and tries to subscribe again,
// reloading once it has, since notices sent meanwhile are lost.
func (s *Service) listen(ctx context.Context) {
	defer s.wg.Done()
	pause := 100 * time.Millisecond
	lost := false
	for ctx.Err() == nil {
		sub, err := s.subscribe(ctx)
		if err != nil {
			if !lost && ctx.Err() == nil {
				s.log.Warn("flags: no Redis subscription; reloading flags every "+s.cfg.TTL.String()+" until Redis returns", "error", err.Error())
				lost = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, retryMax)
			continue
		}
		pause = 100 * time.Millisecond
		s.subscribed.Store(true)
		if lost {
			s.log.Info("flags: Redis subscription back; flags change at once again")
			lost = false
		}
		s.reloadLogged(ctx) // notices sent while unsubscribed are lost
		err = s.receive(ctx, sub)
		s.subscribed.Store(false)
		s.setSub(nil)
		_ = sub.Close()
		if ctx.Err() == nil {
			s.log.Warn("flags: Redis subscription lost; reloading flags every "+s.cfg.TTL.String()+" until Redis returns", "error", errText(err))
			lost = true
		}
	}
}

// subscribe subscribes to the channel and waits for Redis to confirm.
func (s *Service) subscribe(ctx context.Context) (*redis.PubSub, error) {
	sub := s.rdb.Subscribe(ctx, s.channel)
	if !s.setSub(sub) {
		_ = sub.Close()
		return nil, context.Canceled
	}
	cctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if _, err := sub.ReceiveTimeout(cctx, subscribeTimeout); err != nil {
		s.setSub(nil)
		_ = sub.Close()
		return nil, err
	}
	return sub, nil
}

// setSub records the live subscription for Close; it reports false once
// the Service is closing.
func (s *Service) setSub(sub *redis.PubSub) bool {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	select {
	case <-s.closed:
		return false
	default:
	}
	s.sub = sub
	return true
}

// receive reloads on every notice until the subscription fails; a quiet
// one is checked with a PING every pingEvery, and lost when the PING gets
// no answer within pingEvery.
func (s *Service) receive(ctx context.Context, sub *redis.PubSub) error {
	pinged := false
	for {
		msg, err := sub.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && !pinged {
				// Quiet: a PING must come back before the next timeout.
				if err := sub.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		if _, ok := msg.(*redis.Message); ok {
			s.reloadLogged(ctx)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}
