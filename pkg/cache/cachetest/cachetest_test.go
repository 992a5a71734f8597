package cachetest_test

import (
	"testing"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
)

// TestKeysLiveForTheTest: two tests get prefixes of their own, and the keys
// a test wrote are gone once it ends, while another client still reaches
// the server.
func TestKeysLiveForTheTest(t *testing.T) {
	t.Parallel()
	var prefixes []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			c := cachetest.Open(t, cache.Config{})
			if err := c.Redis().Set(t.Context(), c.Key("k"), "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			prefixes = append(prefixes, c.Prefix())
		})
	}
	if len(prefixes) != 2 || prefixes[0] == prefixes[1] {
		t.Fatalf("prefixes %q: want two different ones", prefixes)
	}
	check := cachetest.Open(t, cache.Config{})
	for _, p := range prefixes {
		n, err := check.Redis().Exists(t.Context(), p+"k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%sk still exists after its test ended", p)
		}
	}
}
