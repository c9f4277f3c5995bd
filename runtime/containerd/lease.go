package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/leases"

	"github.com/shoal-project/shoal/internal/textutil"
)

// withTempLease runs fn under a fresh lease, so that everything fn adds to
// the content store and snapshotter is protected while it runs, then
// deletes the lease with a synchronous garbage collection: whatever fn
// left that nothing else references (a failed pull, a corrupt import) is
// gone when withTempLease returns.
func (r *Runtime) withTempLease(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx = r.withNS(ctx)
	lm := r.client.LeasesService()
	l, err := lm.Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour))
	if err != nil {
		return fmt.Errorf("create lease: %s", textutil.OneLine(err.Error()))
	}
	ferr := fn(leases.WithLease(ctx, l.ID))
	// Clean up even if ctx was cancelled.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := lm.Delete(dctx, l, leases.SynchronousDelete); err != nil && ferr == nil {
		return fmt.Errorf("release lease: %s", textutil.OneLine(err.Error()))
	}
	return ferr
}
