package runtime

import (
	"context"

	"github.com/shoal-project/shoal/api"
)

// ImageHealth is implemented by runtimes whose images may declare a
// health check (docker's HEALTHCHECK). The executor uses it for a task
// whose spec has no health check of its own.
type ImageHealth interface {
	// ImageHealthCheck returns the health check of the prepared task's
	// image, or nil when the image declares none (or declares NONE).
	ImageHealthCheck(ctx context.Context, taskID string) (*api.HealthCheck, error)
}
