package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// apiServer serves the HTTP API (api/http.go lists the routes).
type apiServer struct {
	// backend is the node the API runs on (http_backend.go): handlers
	// reach it through nothing else.
	backend apiBackend
	log     *slog.Logger
	metrics *metrics
	// done ends the open event streams.
	done context.Context
	// self is this node's name.
	self string
	// socket is the local unix socket (nil if disabled); tcp the HTTPS
	// listener (nil unless --api-addr is set).
	socket, tcp net.Listener
	srv         *http.Server
	mux         *http.ServeMux
	// certs serves the TLS certificate and the cluster CA.
	certs *apiCertSource
	// streams bounds the open log and event streams.
	streams *streamLimits
}

func newAPIServer(c apiServerConfig) *apiServer {
	s := &apiServer{backend: c.Backend, log: c.Log, metrics: c.Metrics, done: c.Done, self: c.Self, socket: c.Socket, tcp: c.TCP, certs: c.Certs,
		mux: http.NewServeMux(), streams: newStreamLimits(maxStreamsPerSource, maxStreams)}
	s.srv = &http.Server{Handler: c.Metrics.instrument(s.mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnContext: withEndpoint}
	s.route("GET /v1/cluster", api.ACLReadOnly, s.getCluster)
	s.route("GET /v1/nodes", api.ACLReadOnly, s.listNodes)
	s.route("GET /v1/nodes/{name}", api.ACLReadOnly, s.getNode)
	s.route("POST /v1/nodes/{name}", api.ACLOperator, s.updateNode)
	s.route("DELETE /v1/nodes/{name}", api.ACLAdmin, s.removeNode)
	s.route("GET /v1/cluster/ca", api.ACLReadOnly, s.getCA)
	s.route("POST /v1/cluster/rotate-keys", api.ACLAdmin, s.rotateKeys)
	s.route("GET /v1/token", api.ACLAdmin, s.getToken)
	s.route("POST /v1/token/rotate", api.ACLAdmin, s.rotateToken)
	s.routeServices()
	s.routeFaults()
	s.routeImages()
	s.routeOperator()
	s.routeSnapshot()
	s.routeEvents()
	s.routeMetrics()
	s.routeACL()
	s.routeSecrets()
	s.handle("/", api.ACLReadOnly, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	}))
	return s
}

// handle serves pattern with h for callers whose role allows need.
func (s *apiServer) handle(pattern string, need api.ACLRole, h http.Handler) {
	s.mux.Handle(pattern, s.guard(need, h))
}

// handlerFunc returns a value to encode as JSON, or an error.
type handlerFunc func(r *http.Request) (any, error)

// route serves pattern with a JSON handler for callers whose role allows
// need.
func (s *apiServer) route(pattern string, need api.ACLRole, h handlerFunc) {
	s.handle(pattern, need, withDeadlines(requestReadTimeout, requestWriteTimeout, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, api.MaxRequestBody)
		if r.URL.Query().Get("consistent") == "true" && r.Method == http.MethodGet {
			if err := s.backend.consistentRead(r.Context()); err != nil {
				writeError(w, err)
				return
			}
		}
		v, err := h(r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, v)
	}))
}

// Per-request timeouts. The server itself bounds only the header read
// and idle connections, because log and event streams stay open for as
// long as their client does (their number is bounded instead, see
// streamLimits). JSON requests get requestReadTimeout to send their body
// and requestWriteTimeout to be answered (a consistent read or a write
// waits for the leader); uploads and snapshots get transferTimeout.
const (
	requestReadTimeout  = time.Minute
	requestWriteTimeout = 2 * time.Minute
	transferTimeout     = 15 * time.Minute
)

// withDeadlines sets a request's read and write deadlines before h runs.
func withDeadlines(read, write time.Duration, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		rc.SetReadDeadline(now.Add(read))
		rc.SetWriteDeadline(now.Add(write))
		h(w, r)
	}
}

// writeJSON writes v as indented JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// serve serves both endpoints until close.
func (s *apiServer) serve() {
	var wg sync.WaitGroup
	for _, ln := range []net.Listener{s.socket, s.tcp} {
		if ln == nil {
			continue
		}
		wg.Go(func() {
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("api server stopped", "addr", ln.Addr().String(), "err", err)
			}
		})
	}
	wg.Wait()
}

// addr is the TCP API address ("" when the API is on the socket only).
func (s *apiServer) addr() string {
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

func (s *apiServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	for _, ln := range []net.Listener{s.socket, s.tcp} {
		if ln != nil {
			ln.Close()
		}
	}
}

func writeError(w http.ResponseWriter, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			ae = api.Errorf(api.CodeTooLarge, "request body is larger than %d bytes", mbe.Limit)
		} else {
			ae = &api.Error{Code: api.CodeInternal, Message: err.Error()}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(api.HTTPStatus(ae.Code))
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: ae})
}

// decodeBody reads a JSON body strictly: unknown fields and trailing data
// are errors that name the problem.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return api.Errorf(api.CodeTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		if errors.Is(err, io.EOF) {
			return api.Errorf(api.CodeInvalid, "request body is empty")
		}
		return api.Errorf(api.CodeInvalid, "request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return api.Errorf(api.CodeInvalid, "request body: unexpected data after the JSON value")
	}
	return nil
}

// submit submits a command with the request ID the client sent.
func (s *apiServer) submit(r *http.Request, typ api.CommandType, payload any) (json.RawMessage, error) {
	return s.backend.submitPayload(r.Context(), typ, r.Header.Get(api.HeaderRequestID), payload)
}

func (s *apiServer) getCluster(r *http.Request) (any, error) {
	b := s.backend
	v := b.view() // one index for the whole answer
	c, ok := v.Cluster()
	if !ok {
		return nil, api.Errorf(api.CodeUnavailable, "this node has not synced the cluster state yet")
	}
	leader, term := b.leaderTerm()
	st := api.ClusterStatus{ClusterID: c.ID, CreatedAt: c.CreatedAt, CIDR: c.CIDR, ServiceCIDR: c.ServiceCIDR, LeaderID: leader, Term: term,
		CommitIndex: b.commitIndex(), AppliedIndex: v.Index(), Self: s.self}
	if st.CommitIndex < st.AppliedIndex {
		st.CommitIndex = st.AppliedIndex
	}
	for _, n := range v.Nodes() {
		st.Members = append(st.Members, n.Name)
		switch b.roleOf(n) {
		case api.RoleLeader:
			if n.ID == leader {
				st.Leader = n.Name
			}
			st.Voters = append(st.Voters, n.Name)
		case api.RoleVoter:
			st.Voters = append(st.Voters, n.Name)
		case api.RoleNonvoter:
			st.Nonvoters = append(st.Nonvoters, n.Name)
		}
	}
	sort.Strings(st.Members)
	sort.Strings(st.Voters)
	sort.Strings(st.Nonvoters)
	return st, nil
}

// nodeInfo describes node n as view v has it.
func (s *apiServer) nodeInfo(v *state.View, n *api.Node) api.NodeInfo {
	info := api.NodeInfo{Node: *n, Role: s.backend.roleOf(n), Address: n.P2PAddr}
	for _, t := range v.TasksByNode(n.ID) {
		if t.Active() {
			info.Tasks++
		}
	}
	return info
}

func (s *apiServer) listNodes(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	nodes := v.Nodes()
	out := make([]api.NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, s.nodeInfo(v, n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// findNode finds a node by name, ID or unique ID prefix in view v.
func findNode(v *state.View, name string) (*api.Node, error) {
	if n, ok := v.NodeByName(name); ok {
		return n, nil
	}
	// Accept an ID or a unique ID prefix, as docker does.
	var found *api.Node
	for _, n := range v.Nodes() {
		if n.ID == name || (len(name) >= 4 && (strings.HasPrefix(n.ID, name) || strings.HasPrefix(api.ShortID(n.ID), name))) {
			if found != nil {
				return nil, api.Errorf(api.CodeInvalid, "node %q is ambiguous", name)
			}
			found = n
		}
	}
	if found == nil {
		return nil, api.Errorf(api.CodeNotFound, "no such node: %s", name)
	}
	return found, nil
}

// nodeNameIn is the name of node id in view v, or its short ID if it has
// no record.
func nodeNameIn(v *state.View, id string) string {
	if n, ok := v.Node(id); ok {
		return n.Name
	}
	return api.ShortID(id)
}

func (s *apiServer) getNode(r *http.Request) (any, error) {
	v := s.backend.view()
	n, err := findNode(v, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return s.nodeInfo(v, n), nil
}

func (s *apiServer) updateNode(r *http.Request) (any, error) {
	n, err := findNode(s.backend.view(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	var req api.NodeUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	switch req.Availability {
	case "", api.AvailabilityActive, api.AvailabilityPause, api.AvailabilityDrain:
	default:
		return nil, api.Errorf(api.CodeInvalid, "availability: %q is not active, pause or drain", req.Availability)
	}
	if err := checkDrainDeadline(req); err != nil {
		return nil, err
	}
	for k := range req.LabelAdd {
		if k == "" || strings.ContainsAny(k, "= ,") {
			return nil, api.Errorf(api.CodeInvalid, "label_add: %q is not a valid label key", k)
		}
	}
	if _, err := s.submit(r, api.CmdUpdateNode, api.UpdateNodePayload{NodeID: n.ID, Availability: req.Availability, LabelAdd: req.LabelAdd, LabelRemove: req.LabelRemove, DrainDeadline: req.DrainDeadline}); err != nil {
		return nil, err
	}
	// The answer reads the replica after the write, at one index.
	v := s.backend.view()
	n, err = findNode(v, n.Name)
	if err != nil {
		return nil, err
	}
	return s.nodeInfo(v, n), nil
}

// removeNode removes a node for good (see node/remove.go); ?force=true
// removes one that is up.
func (s *apiServer) removeNode(r *http.Request) (any, error) {
	force := r.URL.Query().Get("force") == "true"
	// Judge the node's status on the latest state, not a lagging replica.
	if err := s.backend.consistentRead(r.Context()); err != nil {
		return nil, err
	}
	n, err := findNode(s.backend.view(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if err := s.backend.checkRemovable(n, force); err != nil {
		return nil, err
	}
	if _, err := s.submit(r, api.CmdRemoveNode, api.RemoveNodePayload{NodeID: n.ID}); err != nil {
		return nil, err
	}
	return map[string]string{"removed": n.Name}, nil
}

func (s *apiServer) getToken(r *http.Request) (any, error) {
	c, ok := s.backend.view().Cluster()
	if !ok {
		return nil, api.Errorf(api.CodeUnavailable, "this node has not synced the cluster state yet")
	}
	return api.TokenResponse{Token: tokenFor(c).String(), RotatedAt: c.TokenRotatedAt}, nil
}

func (s *apiServer) rotateToken(r *http.Request) (any, error) {
	if _, err := s.submit(r, api.CmdRotateToken, api.RotateTokenPayload{}); err != nil {
		return nil, err
	}
	return s.getToken(r)
}
