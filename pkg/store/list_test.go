package store

import "testing"

func TestListLimit(t *testing.T) {
	for _, tt := range []struct{ n, def, want int }{
		{0, DefaultListLimit, DefaultListLimit}, {-3, 100, 100}, {7, 100, 7},
		{MaxListLimit, 100, MaxListLimit}, {MaxListLimit + 1, 100, MaxListLimit}, {0, MaxListLimit * 2, MaxListLimit},
	} {
		if got := ListLimit(tt.n, tt.def); got != tt.want {
			t.Errorf("ListLimit(%d, %d) = %d, want %d", tt.n, tt.def, got, tt.want)
		}
	}
}
