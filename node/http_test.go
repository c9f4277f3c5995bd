package node

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestDecodeBodyNamesTheProblem(t *testing.T) {
	cases := map[string]string{
		``:                          "request body is empty",
		`{"availability": 3}`:       "availability",
		`{"bogus": 1}`:              `unknown field "bogus"`,
		`{"availability":"pause"}x`: "unexpected data",
		strings.Repeat(" ", api.MaxRequestBody+10) + `{}`: "larger than",
	}
	for body, want := range cases {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/nodes/n1", strings.NewReader(body))
		r.Body = http.MaxBytesReader(rec, r.Body, api.MaxRequestBody)
		var req api.NodeUpdateRequest
		err := decodeBody(r, &req)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodeBody(%.30q) = %v, want %q", body, err, want)
		}
	}
}

func TestWriteErrorMapsCodes(t *testing.T) {
	for err, status := range map[error]int{
		api.Errorf(api.CodeNotFound, "no such node: x"): 404,
		api.Errorf(api.CodeConflict, "taken"):           409,
		api.Errorf(api.CodeNoLeader, "no leader"):       503,
		errors.New("boom"):                              500,
	} {
		rec := httptest.NewRecorder()
		writeError(rec, err)
		var body api.ErrorResponse
		if rec.Code != status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == nil || body.Error.Message != err.Error() {
			t.Errorf("writeError(%v): %d %s", err, rec.Code, rec.Body.String())
		}
	}
}
