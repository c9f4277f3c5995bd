package containerd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestParseImageHealth: docker's HEALTHCHECK test forms in an image
// config.
func TestParseImageHealth(t *testing.T) {
	for _, c := range []struct {
		config string
		want   *api.HealthCheck
		err    string
	}{
		{`{"config":{"Cmd":["/hello"]}}`, nil, ""},
		{`{"config":{"Healthcheck":{"Test":[]}}}`, nil, ""},
		{`{"config":{"Healthcheck":{"Test":["NONE"]}}}`, nil, ""},
		{`{"config":{"Healthcheck":{"Test":["CMD","/hello","-check","http://127.0.0.1:8080/"],"Interval":2000000000,"Timeout":1000000000,"StartPeriod":3000000000,"Retries":4}}}`,
			&api.HealthCheck{Cmd: []string{"CMD", "/hello", "-check", "http://127.0.0.1:8080/"},
				Interval: api.Duration(2 * time.Second), Timeout: api.Duration(time.Second), StartPeriod: api.Duration(3 * time.Second), Retries: 4}, ""},
		{`{"config":{"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"]}}}`,
			&api.HealthCheck{Cmd: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}, ""},
		{`{"config":{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":1000}}}`,
			&api.HealthCheck{Cmd: []string{"CMD-SHELL", "true"}, Interval: api.Duration(minImageHealthInterval)}, ""},
		{`{"config":{"Healthcheck":{"Test":["CMD"]}}}`, nil, `image HEALTHCHECK test ["CMD"]`},
		{`{"config":{"Healthcheck":{"Test":["CMD-SHELL","a","b"]}}}`, nil, "image HEALTHCHECK test"},
		{`{"config":{"Healthcheck":{"Test":["/bin/true"]}}}`, nil, "image HEALTHCHECK test"},
		{`{"config":{"Healthcheck":{"Test":["CMD","x"],"Retries":-1}}}`, nil, "negative"},
		{`{"config":`, nil, "image config:"},
	} {
		got, err := parseImageHealth([]byte(c.config))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v, want an error with %q", c.config, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v; want %+v", c.config, got, err, c.want)
		}
	}
}
