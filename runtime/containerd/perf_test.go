package containerd

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCreateToRunning measures one container from Prepare (image
// already present) to Start returning with the task running.
func BenchmarkCreateToRunning(b *testing.B) {
	r := newRuntime(b, nil)
	importHello(b, r)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench%d", i)
		spec, _ := helloSpec(b, id)
		if err := r.Prepare(ctx, spec); err != nil {
			b.Fatal(err)
		}
		if err := r.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := r.Remove(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
