package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/state"
)

// logsProtocol streams one task's log from the node that runs it.
const logsProtocol = "/shoal/logs/1"

type logsRequest struct {
	TaskID string `json:"task_id"`
	Follow bool   `json:"follow"`
	Tail   int    `json:"tail"`
}

type logsHeader struct {
	Error *api.Error `json:"error,omitempty"`
}

func (a *Agent) serveLogs(c net.Conn) {
	defer c.Close()
	var req logsRequest
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	go func() { // the reader hanging up ends a follow
		var b [1]byte
		c.Read(b[:])
		cancel()
	}()
	rc, err := a.executor.Logs(ctx, req.TaskID, runtime.LogOptions{Follow: req.Follow, Tail: req.Tail})
	if err != nil {
		p2p.WriteFrame(c, logsHeader{Error: api.Errorf(api.CodeNotFound, "logs of task %s: %v", req.TaskID, err)})
		return
	}
	defer rc.Close()
	if err := p2p.WriteFrame(c, logsHeader{}); err != nil {
		return
	}
	io.Copy(c, rc)
}

// taskLogs opens one task's log, locally or from its node.
func (a *Agent) taskLogs(ctx context.Context, t *api.Task, follow bool, tail int) (io.ReadCloser, error) {
	if t.NodeID == a.ID() {
		return a.executor.Logs(ctx, t.ID, runtime.LogOptions{Follow: follow, Tail: tail})
	}
	id, err := peer.Decode(t.NodeID)
	if err != nil {
		return nil, err
	}
	c, err := a.host.Dial(ctx, id, logsProtocol)
	if err != nil {
		return nil, err
	}
	if err := p2p.WriteFrame(c, logsRequest{TaskID: t.ID, Follow: follow, Tail: tail}); err != nil {
		c.Close()
		return nil, err
	}
	var h logsHeader
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := p2p.ReadFrame(c, &h, 64<<10); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Time{})
	if h.Error != nil {
		c.Close()
		return nil, h.Error
	}
	go func() { <-ctx.Done(); c.Close() }()
	return c, nil
}

// serviceLogs gathers the logs of a service's tasks from the nodes that
// ran them, each line prefixed with its task (name.slot@node).
func (s *apiServer) serviceLogs(w http.ResponseWriter, r *http.Request) {
	v := s.backend.view() // one index for the tasks and their nodes
	svc, err := findServiceIn(v, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	follow := r.URL.Query().Get("follow") == "true"
	tail := -1
	if v := r.URL.Query().Get("tail"); v != "" {
		if tail, err = strconv.Atoi(v); err != nil {
			writeError(w, api.Errorf(api.CodeInvalid, "tail: %q is not a number", v))
			return
		}
	}
	var tasks []*api.Task
	for _, t := range v.TasksByService(svc.ID) {
		if t.NodeID != "" && t.Status.State >= api.TaskStarting {
			tasks = append(tasks, t)
		}
	}
	s.streamLogs(w, r, v, tasks, follow, tail)
}

// taskLogs serves one task's log.
func (s *apiServer) taskLogs(w http.ResponseWriter, r *http.Request) {
	v := s.backend.view()
	t, ok := v.Task(r.PathValue("id"))
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "no such task: %s", r.PathValue("id")))
		return
	}
	s.streamLogs(w, r, v, []*api.Task{t}, r.URL.Query().Get("follow") == "true", -1)
}

// streamLogs streams the logs of tasks, each line prefixed with its task
// and the name its node has in view v.
func (s *apiServer) streamLogs(w http.ResponseWriter, r *http.Request, v *state.View, tasks []*api.Task, follow bool, tail int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range tasks {
		prefix := fmt.Sprintf("%s.%d", t.ServiceName, t.Slot)
		if n, ok := v.Node(t.NodeID); ok {
			prefix += "@" + n.Name
		}
		rc, err := s.backend.taskLogs(r.Context(), t, follow, tail)
		if err != nil {
			mu.Lock()
			fmt.Fprintf(w, "%s | (logs unavailable: %v)\n", prefix, err)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(rc io.ReadCloser, prefix string) {
			defer wg.Done()
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(w, "%s | %s\n", prefix, sc.Text())
				if flusher != nil && follow {
					flusher.Flush()
				}
				mu.Unlock()
			}
		}(rc, prefix)
	}
	wg.Wait()
}
