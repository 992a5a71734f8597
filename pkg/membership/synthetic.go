package membership

import (
	"strconv"
	"time"
)

// Domains of member attributes, as stored in membership_point and
// membership_filter.
const (
	MinLevel      = 1  // lowest member level
	MaxLevel      = 5  // highest member level
	MaxActiveDays = 30 // active_days counts logins over the last 30 days
)

// Account statuses (membership_account.status).
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Member is one synthetic member as the seeder writes it across
// membership_account, membership_point and membership_filter.
type Member struct {
	ID             int64
	Username       string
	Mobile         string // always set
	Email          string // empty for about 15% of members
	PushToken      string // empty for about 30% (app not installed)
	Status         string // StatusActive, or StatusDisabled for about 2%
	Level          int    // MinLevel..MaxLevel, a pyramid: 50/25/15/7/3 %
	Points         int64
	LifetimePoints int64 // within the level's band, >= Points
	ActiveDays     int   // 0..MaxActiveDays, skewed: 35% zero, 5% daily
	Tags           uint64
	LastLoginAt    time.Time // zero = never logged in
	CreatedAt      time.Time
}

// Synthetic returns the member the seeder writes for id. Every attribute is
// a function of id alone (a hash of it), except LastLoginAt, which is placed
// relative to now so that it agrees with ActiveDays.
func Synthetic(id int64, now time.Time) Member {
	a := attributesOf(id, now)
	m := Member{
		ID:             id,
		Username:       string(appendUsername(nil, id)),
		Mobile:         string(appendMobile(nil, &a)),
		Email:          string(appendEmail(nil, &a)),
		PushToken:      string(appendPushToken(nil, &a)),
		Status:         a.status,
		Level:          a.level,
		Points:         a.points,
		LifetimePoints: a.lifetime,
		ActiveDays:     a.activeDays,
		Tags:           a.tags,
		CreatedAt:      time.UnixMilli(a.createdMs).UTC(),
	}
	if a.lastLoginMs != 0 {
		m.LastLoginAt = time.UnixMilli(a.lastLoginMs).UTC()
	}
	return m
}

// attributes are a member's generated values without the strings, so the
// seeder can append rows without allocating.
type attributes struct {
	id          int64
	h           [4]uint64 // independent hashes of id
	status      string
	level       int
	points      int64
	lifetime    int64
	activeDays  int
	tags        uint64
	createdMs   int64
	lastLoginMs int64 // 0 = never
	hasEmail    bool
	hasPush     bool
}

// epochMs is when the first synthetic member registered: 2019-01-01 UTC.
const epochMs = 1546300800000

// registrationGapMs spaces registrations: member id n registers about n*9 s
// after the epoch (10 million members span almost three years).
const registrationGapMs = 9000

const dayMs = 24 * 3600 * 1000

// levelBands are the lifetime-point bands per level, [lo, hi).
var levelBands = [MaxLevel + 1][2]int64{{}, {0, 1000}, {1000, 5000}, {5000, 20000}, {20000, 50000}, {50000, 200000}}

func attributesOf(id int64, now time.Time) attributes {
	a := attributes{id: id}
	for i := range a.h {
		a.h[i] = mix(uint64(id)*4 + uint64(i))
	}
	h0, h1 := a.h[0], a.h[1]

	// Level pyramid, per mille: 500 / 250 / 150 / 70 / 30.
	switch u := h0 % 1000; {
	case u < 500:
		a.level = 1
	case u < 750:
		a.level = 2
	case u < 900:
		a.level = 3
	case u < 970:
		a.level = 4
	default:
		a.level = 5
	}
	h0 /= 1000
	band := levelBands[a.level]
	a.lifetime = band[0] + int64(h0%uint64(band[1]-band[0]))
	h0 /= 1 << 18
	a.points = a.lifetime * int64(h0%101) / 100

	// Active days, per mille: 0 350, 1-4 250, 5-14 200, 15-24 100, 25-29 50, 30 50.
	switch u := h1 % 1000; {
	case u < 350:
		a.activeDays = 0
	case u < 600:
		a.activeDays = 1 + int(h1/1000%4)
	case u < 800:
		a.activeDays = 5 + int(h1/1000%10)
	case u < 900:
		a.activeDays = 15 + int(h1/1000%10)
	case u < 950:
		a.activeDays = 25 + int(h1/1000%5)
	default:
		a.activeDays = MaxActiveDays
	}
	h1 /= 1000 * 10

	// Portrait tags: 0..4 distinct tags, per mille 200 / 300 / 250 / 150 / 100.
	var n int
	switch u := h1 % 1000; {
	case u < 200:
		n = 0
	case u < 500:
		n = 1
	case u < 750:
		n = 2
	case u < 900:
		n = 3
	default:
		n = 4
	}
	h1 /= 1000
	for t := h1; n > 0; t = mix(t) {
		bit := uint64(1) << (t % NumTags)
		if a.tags&bit == 0 {
			a.tags |= bit
			n--
		}
	}

	h2 := a.h[2]
	a.status = StatusActive
	if h2%100 < 2 {
		a.status = StatusDisabled
	}
	h2 /= 100
	a.hasEmail = h2%100 < 85
	h2 /= 100
	a.hasPush = h2%100 < 70
	h2 /= 100

	a.createdMs = epochMs + id*registrationGapMs + int64(h2%registrationGapMs)
	nowMs := now.UnixMilli()
	a.createdMs = min(a.createdMs, nowMs)

	// The last login agrees with active_days: a member active on d of the
	// last 30 days logged in at most 30-d days ago.
	h2 = mix(a.h[2])
	switch {
	case a.activeDays > 0:
		daysAgo := int64(h2 % uint64(MaxActiveDays+1-a.activeDays))
		h2 /= MaxActiveDays + 1
		a.lastLoginMs = nowMs - daysAgo*dayMs - int64(h2%dayMs)
	case h2%5 == 0:
		a.lastLoginMs = 0 // never logged in
	default:
		h2 /= 5
		a.lastLoginMs = nowMs - (MaxActiveDays+1)*dayMs - int64(h2%(700*dayMs))
	}
	if a.lastLoginMs != 0 {
		a.lastLoginMs = max(a.lastLoginMs, a.createdMs)
	}
	return a
}

// mix is SplitMix64's finaliser: a fast, well-distributed 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func appendUsername(b []byte, id int64) []byte {
	b = append(b, "member"...)
	return appendPadded(b, uint64(id), 10)
}

// appendMobile writes an 11-digit mainland-China style mobile number.
func appendMobile(b []byte, a *attributes) []byte {
	h := a.h[3]
	b = append(b, '1', "3456789"[h%7])
	return appendPadded(b, h/7%1_000_000_000, 9)
}

var emailDomains = [...]string{"@example.com", "@example.net", "@example.org"}

func appendEmail(b []byte, a *attributes) []byte {
	if !a.hasEmail {
		return b
	}
	b = appendUsername(b, a.id)
	return append(b, emailDomains[a.h[3]>>60%3]...)
}

// appendPushToken writes a 32-hex-digit token.
func appendPushToken(b []byte, a *attributes) []byte {
	if !a.hasPush {
		return b
	}
	const hexDigits = "0123456789abcdef"
	for _, x := range [2]uint64{mix(a.h[3]), mix(a.h[3] ^ 0x5bd1e995)} {
		for i := 60; i >= 0; i -= 4 {
			b = append(b, hexDigits[x>>i&0xf])
		}
	}
	return b
}

// appendPadded writes v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendDatetime writes ms since the Unix epoch as a UTC DATETIME(3) literal,
// "2006-01-02 15:04:05.000".
func appendDatetime(b []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	b = appendPadded(b, uint64(y), 4)
	b = append(b, '-')
	b = appendPadded(b, uint64(mo), 2)
	b = append(b, '-')
	b = appendPadded(b, uint64(d), 2)
	b = append(b, ' ')
	b = appendPadded(b, uint64(hh), 2)
	b = append(b, ':')
	b = appendPadded(b, uint64(mm), 2)
	b = append(b, ':')
	b = appendPadded(b, uint64(ss), 2)
	b = append(b, '.')
	return appendPadded(b, uint64(t.Nanosecond()/1e6), 3)
}
