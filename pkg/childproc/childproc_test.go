package childproc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcessMemory(t *testing.T) {
	m, err := ProcessMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.PeakRSS < m.RSS {
		t.Errorf("memory %+v", m)
	}
	if _, err := ProcessMemory(1 << 30); err == nil {
		t.Error("no error for a missing process")
	}
}

func TestScanLog(t *testing.T) {
	log := `{"time":"t","level":"INFO","msg":"planner: campaign planned","campaign_id":42,"shards":1000,"plan":81000000}
not json: a panic trace
{"msg":"push: shard done","campaign_id":18446744073709551615,"owner":"a"}
{"msg":"no newline at the end"}`
	var recs []LogRecord
	if err := ScanLog(strings.NewReader(log), func(r LogRecord) { recs = append(recs, r) }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	id, _ := recs[0].Uint("campaign_id")
	plan, _ := recs[0].Duration("plan")
	shards, _ := recs[0].Int("shards")
	if recs[0].Msg() != MsgCampaignPlanned || id != 42 || plan != 81*time.Millisecond || shards != 1000 {
		t.Errorf("first record %v", recs[0])
	}
	if id, ok := recs[1].Uint("campaign_id"); !ok || id != 1<<64-1 || recs[1].Str("owner") != "a" {
		t.Errorf("second record %v", recs[1])
	}
	if _, ok := recs[2].Int("missing"); ok || recs[2].Str("missing") != "" {
		t.Error("missing attributes found")
	}
}

func TestFind(t *testing.T) {
	exe := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	beside, onPath, empty := t.TempDir(), t.TempDir(), t.TempDir()
	self := exe(beside, "mktctl")
	nextTo := exe(beside, "pushd")
	inPath := exe(onPath, "pushd")
	exe(onPath, "couponsd")
	t.Setenv("PATH", onPath)

	for _, tc := range []struct {
		name, explicit, self string
		want                 string // the path found, or "" for ErrNotFound
		msg                  string // a substring of the error
	}{
		{name: "pushd", explicit: inPath, self: self, want: inPath},
		{name: "pushd", self: self, want: nextTo},
		{name: "couponsd", self: self, want: filepath.Join(onPath, "couponsd")},
		{name: "pushd", self: filepath.Join(empty, "mktctl"), want: inPath},
		{name: "pushd", explicit: filepath.Join(empty, "pushd"), self: self, msg: "no such file"},
		{name: "pushd", explicit: empty, self: self, msg: "is a directory"},
		{name: "other", self: self, msg: "in " + beside + " (next to mktctl) nor on $PATH: build the binaries together with `make build`"},
		{name: "other", msg: "other not found on $PATH: build"},
	} {
		got, err := find(tc.name, tc.explicit, tc.self)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("find(%q, %q, %q) = %q, %v; want %q", tc.name, tc.explicit, tc.self, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("find(%q, %q, %q) = %q, %v; want ErrNotFound saying %q", tc.name, tc.explicit, tc.self, got, err, tc.msg)
		}
	}
}
