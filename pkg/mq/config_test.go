package mq

import (
	"context"
	"errors"
	"testing"

	"mkt/pkg/config"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.NameServer != config.DefaultRocketMQNameServer || c.BrokerAddr != config.DefaultRocketMQBroker ||
		c.SendTimeout != DefaultSendTimeout || c.Retries != DefaultRetries || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if got := (Config{Retries: -1}).withDefaults().Retries; got != 0 {
		t.Fatalf("negative retries became %d, want 0", got)
	}
}

func TestConfigNameServers(t *testing.T) {
	addrs, err := Config{NameServer: "127.0.0.1:9876; 10.0.0.2:9876"}.nameServers()
	if err != nil || len(addrs) != 2 || addrs[1] != "10.0.0.2:9876" {
		t.Fatalf("nameServers = %v, %v", addrs, err)
	}
	for _, bad := range []string{"localhost:9876", "127.0.0.1", ";", "127.0.0.1:"} {
		if _, err := (Config{NameServer: bad}).nameServers(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("name server %q: err = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestConsumerConfigValidate(t *testing.T) {
	h := func(context.Context, *Delivery) error { return nil }
	base := ConsumerConfig{Group: "g", Topic: "t", Handler: h}
	if err := base.withDefaults().validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]ConsumerConfig{
		"no group":     {Topic: "t", Handler: h},
		"no topic":     {Group: "g", Handler: h},
		"no handler":   {Group: "g", Topic: "t"},
		"bad group":    {Group: "g g", Topic: "t", Handler: h},
		"reconsume":    {Group: "g", Topic: "t", Handler: h, MaxReconsumeTimes: 33},
		"delay level":  {Group: "g", Topic: "t", Handler: h, RetryDelayLevels: []int{19}},
		"concurrency":  {Group: "g", Topic: "t", Handler: h, Concurrency: -1},
		"name server":  {Config: Config{NameServer: "mq.example:9876"}, Group: "g", Topic: "t", Handler: h},
		"broker addr":  {Config: Config{BrokerAddr: "nope"}, Group: "g", Topic: "t", Handler: h},
		"send timeout": {Config: Config{SendTimeout: -1}, Group: "g", Topic: "t", Handler: h},
		"retries":      {Config: Config{Retries: 17}, Group: "g", Topic: "t", Handler: h},
	} {
		if err := c.withDefaults().validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestProducerConfigValidate(t *testing.T) {
	if err := (ProducerConfig{}).withDefaults().validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]ProducerConfig{
		"count": {MaxBatchCount: 2000},
		"bytes": {MaxBatchBytes: 5 << 20},
		"small": {MaxBatchBytes: 100},
	} {
		if err := c.withDefaults().validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := (TxProducerConfig{Group: "g"}).withDefaults().validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("tx producer without Check: err = %v, want ErrInvalidConfig", err)
	}
}

func TestDelayLevel(t *testing.T) {
	c := &Consumer{cfg: ConsumerConfig{RetryDelayLevels: []int{1, 3, 5}}}
	for rt, want := range map[int]int{0: 1, 1: 3, 2: 5, 3: 5, 10: 5} {
		if got := c.delayLevel(rt); got != want {
			t.Errorf("delayLevel(%d) = %d, want %d", rt, got, want)
		}
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("unparseable")
	err := Permanent(base)
	if !IsPermanent(err) || !errors.Is(err, base) {
		t.Fatalf("Permanent(%v) = %v: IsPermanent %v, Is base %v", base, err, IsPermanent(err), errors.Is(err, base))
	}
	wrapped := errors.Join(errors.New("ctx"), err)
	if !IsPermanent(wrapped) {
		t.Fatal("IsPermanent does not see through wrapping")
	}
	if IsPermanent(base) || Permanent(nil) != nil {
		t.Fatal("plain error is permanent or Permanent(nil) is not nil")
	}
}
