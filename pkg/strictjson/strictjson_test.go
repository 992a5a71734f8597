package strictjson

import (
	"strings"
	"testing"
)

type inner struct {
	Levels []int `json:"levels"`
}

type body struct {
	MemberID int64   `json:"member_id"`
	OrderID  string  `json:"order_id,omitempty"`
	Filter   inner   `json:"filter"`
	Items    []inner `json:"items"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" = valid
		allow    bool
	}{
		{`{"member_id":1,"filter":{"levels":[1]},"items":[{"levels":[2]}]}`, "", false},
		{` {"member_id":1} ` + "\n", "", false},
		{`{"member_id":1} garbage`, "text after the JSON value", false},
		{`{"member_id":1}{"member_id":2}`, "text after the JSON value", false},
		{`{"Member_ID":1}`, `key "Member_ID": keys are case-sensitive (want "member_id")`, false},
		{`{"member_id":1,"member_id":2}`, `key "member_id" is given twice`, false},
		{`{"filter":{"levels":[1],"levels":[2]}}`, `key "filter.levels" is given twice`, false},
		{`{"items":[{"Levels":[1]}]}`, `key "items[0].Levels": keys are case-sensitive`, false},
		{`{"member_id":1,"extra":true}`, `unknown field "extra"`, false},
		{`{"member_id":1,"extra":true}`, "", true},
		{`{"member_id":1,"extra":1,"extra":2}`, `key "extra" is given twice`, true},
		{`{"member_id":"1"}`, "cannot unmarshal", false},
		{``, "EOF", false},
	} {
		var b body
		err := Decode([]byte(tc.in), &b, Options{AllowUnknown: tc.allow})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
