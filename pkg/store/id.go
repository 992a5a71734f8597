package store

import (
	"errors"
	"math"
	"strconv"
)

// ErrBadID is returned by ParseID.
var ErrBadID = errors.New("not an id: want a positive decimal integer without sign or leading zero")

// ParseID reads a row id as people and other systems write it: decimal
// digits, no sign, no leading zero, no spaces, at most math.MaxInt64 (every
// id column fits a signed BIGINT). "+5012" and "005012" are refused rather
// than read as 5012.
func ParseID(s string) (uint64, error) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, ErrBadID
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadID
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id > math.MaxInt64 {
		return 0, ErrBadID
	}
	return id, nil
}
