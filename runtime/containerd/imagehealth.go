package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

var _ rtapi.ImageHealth = (*Runtime)(nil)

// imageHealthConfig is the part of a docker image config (docker build
// writes the same into OCI images) that holds its HEALTHCHECK. Durations
// are nanoseconds; zero means the default.
type imageHealthConfig struct {
	Config struct {
		Healthcheck *struct {
			Test        []string
			Interval    time.Duration
			Timeout     time.Duration
			StartPeriod time.Duration
			Retries     int
		}
	}
}

// Shortest timings an image's health check gets: shorter ones are raised
// to these, the spec's minimums.
const (
	minImageHealthInterval = 100 * time.Millisecond
	minImageHealthTimeout  = 10 * time.Millisecond
)

// parseImageHealth reads the HEALTHCHECK of an image config blob: nil for
// none, an empty test (inherit: nothing to inherit here) or ["NONE"];
// ["CMD", PROG, ARG...] and ["CMD-SHELL", LINE] become a cmd check in the
// same form. An unknown form is an error.
func parseImageHealth(config []byte) (*api.HealthCheck, error) {
	var ic imageHealthConfig
	if err := json.Unmarshal(config, &ic); err != nil {
		return nil, fmt.Errorf("image config: %s", textutil.OneLine(err.Error()))
	}
	hc := ic.Config.Healthcheck
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == api.HealthFormNone {
		return nil, nil
	}
	switch {
	case hc.Test[0] == api.HealthFormCmd && len(hc.Test) >= 2 && hc.Test[1] != "":
	case hc.Test[0] == api.HealthFormCmdShell && len(hc.Test) == 2 && hc.Test[1] != "":
	default:
		return nil, fmt.Errorf("image HEALTHCHECK test %q: want [\"CMD\", PROG, ARG...], [\"CMD-SHELL\", LINE] or [\"NONE\"]", hc.Test)
	}
	if hc.Interval < 0 || hc.Timeout < 0 || hc.StartPeriod < 0 || hc.Retries < 0 {
		return nil, fmt.Errorf("image HEALTHCHECK: negative interval, timeout, start period or retries")
	}
	h := &api.HealthCheck{
		Cmd:         append([]string(nil), hc.Test...),
		Interval:    api.Duration(hc.Interval),
		Timeout:     api.Duration(hc.Timeout),
		StartPeriod: api.Duration(hc.StartPeriod),
		Retries:     uint64(hc.Retries),
	}
	if h.Interval != 0 && h.Interval < api.Duration(minImageHealthInterval) {
		h.Interval = api.Duration(minImageHealthInterval)
	}
	if h.Timeout != 0 && h.Timeout < api.Duration(minImageHealthTimeout) {
		h.Timeout = api.Duration(minImageHealthTimeout)
	}
	return h, nil
}

// imageHealthLabel returns the label that carries img's health check
// for a new container, or "" when the image declares none.
func imageHealthLabel(ctx context.Context, img client.Image) (string, error) {
	desc, err := img.Config(ctx)
	if err != nil {
		return "", fmt.Errorf("image %s: config: %s", img.Name(), textutil.OneLine(err.Error()))
	}
	blob, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return "", fmt.Errorf("image %s: config: %s", img.Name(), textutil.OneLine(err.Error()))
	}
	h, err := parseImageHealth(blob)
	if err != nil || h == nil {
		if err != nil {
			err = fmt.Errorf("image %s: %w", img.Name(), err)
		}
		return "", err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	if len(b) > 4000 { // containerd refuses labels over 4 KiB
		return "", fmt.Errorf("image %s: HEALTHCHECK too long (%d bytes)", img.Name(), len(b))
	}
	return string(b), nil
}

// ImageHealthCheck returns the health check the task's image declared
// when the task was prepared, or nil.
func (r *Runtime) ImageHealthCheck(ctx context.Context, taskID string) (*api.HealthCheck, error) {
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return nil, err
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return nil, fmt.Errorf("task %s: %s", taskID, textutil.OneLine(err.Error()))
	}
	v, ok := labels[labelImageHealth]
	if !ok {
		return nil, nil
	}
	var h api.HealthCheck
	if err := json.Unmarshal([]byte(v), &h); err != nil {
		return nil, fmt.Errorf("task %s: label %s: %s", taskID, labelImageHealth, textutil.OneLine(err.Error()))
	}
	return &h, nil
}
