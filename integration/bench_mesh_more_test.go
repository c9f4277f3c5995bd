package integration

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// meshBulkFigures prints the MB/s of one -mesh-bulk download from each
// of paths (the first is the base), -mesh-rounds rounds, medians.
func meshBulkFigures(b *testing.B, paths []struct{ name, addr string }) {
	rates := make([][]float64, len(paths))
	for r := 0; r < *meshRounds; r++ {
		for i, p := range paths {
			mbs, err := download(p.addr, *meshBulk)
			if err != nil {
				b.Fatalf("bulk %s: %v", p.name, err)
			}
			rates[i] = append(rates[i], mbs)
		}
	}
	fmt.Printf("\nbulk: one %d MiB download (%d rounds, medians)\n", *meshBulk>>20, *meshRounds)
	fmt.Printf("%-22s %10s %8s\n", "path", "MB/s", "×MB/s")
	var base float64
	for i, p := range paths {
		slices.Sort(rates[i])
		m := rates[i][len(rates[i])/2]
		if i == 0 {
			base = m
		}
		fmt.Printf("%-22s %10.0f %8.2f\n", p.name, m, m/base)
		b.ReportMetric(m, []string{"direct", "ingress", "ingress_proxy"}[min(i, 2)]+"_bulk_MB/s")
	}
}

// download GETs n bytes of hello's /bytes at addr on a new connection
// and returns the MB/s from the request to the last byte.
func download(addr string, n int64) (float64, error) {
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get(fmt.Sprintf("http://%s/bytes?n=%d", addr, n))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<20)
	var got int64
	for {
		k, err := resp.Body.Read(buf)
		got += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if got != n {
		return 0, fmt.Errorf("%d bytes of %d", got, n)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds(), nil
}

// meshKills asks service's ingress port on n1 200 times a second, each
// request on a new connection, while each of its three tasks in turn is
// killed -9 and replaced, and prints the failures: all of them, those
// started once n1's API showed the task gone and, on the kernel's port,
// those started once n1's rule had dropped it, with the times from the
// kill to the API and from the API to the rule.
func meshKills(b *testing.B, c *cluster, service string, published int, kernel bool) {
	n1 := c.agents[0]
	rate := startRate(fmt.Sprintf("127.0.0.1:%d", published), 5*time.Millisecond)
	defer rate.Stop()
	var fos []failover
	for _, node := range []string{"n1", "n2", "n3"} {
		f := killTask(b, n1, service, node)
		if kernel {
			f.dropped = waitDropped(b, n1, published, 2)
			waitRunningHealthy(b, n1, service, 3)
			waitDropped(b, n1, published, 3)
		} else {
			waitRunning(b, n1, service, 3, 30*time.Second)
		}
		fos = append(fos, f)
	}
	end := time.Now()
	rate.Stop()
	all, total := rate.failed(time.Time{}, end)
	var afterSeen, afterDropped int
	var toSeen, toDrop []time.Duration
	for i, f := range fos {
		next := end
		if i+1 < len(fos) {
			next = fos[i+1].killed
		}
		fs, _ := rate.failed(f.seen, next)
		afterSeen += len(fs)
		toSeen = append(toSeen, f.seen.Sub(f.killed))
		if kernel {
			fd, _ := rate.failed(f.dropped, next)
			afterDropped += len(fd)
			toDrop = append(toDrop, f.dropped.Sub(f.seen))
		}
	}
	med := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2].Round(time.Millisecond)
	}
	fmt.Printf("\nfailures, %s's ingress port on n1 (%s), 200 new connections/s, its 3 tasks killed -9 in turn\n", service,
		map[bool]string{true: "kernel", false: "userspace, PROXY protocol"}[kernel])
	fmt.Printf("  requests %d, failed %d; failed once n1's API showed the task gone: %d; kill → API (median): %s\n",
		total, len(all), afterSeen, med(toSeen))
	if kernel {
		fmt.Printf("  failed once n1's rule had dropped it: %d; API → rule (median): %s\n", afterDropped, med(toDrop))
	}
	key := map[bool]string{true: "ingress", false: "ingress_proxy"}[kernel]
	b.ReportMetric(float64(len(all)), key+"_kill_failed")
	b.ReportMetric(float64(afterSeen), key+"_kill_failed_after_seen")
}
