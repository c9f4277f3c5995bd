package node

import (
	"net/http"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

func (s *apiServer) routeRollout() {
	s.route("POST /v1/services/{name}/rollback", api.ACLOperator, s.rollbackService)
	s.route("POST /v1/services/{name}/promote", api.ACLOperator, s.promoteService)
}

// changedBy names the API caller for a service's history, or "" while a
// node of the cluster (in view v) speaks a protocol older than the one
// that records it (a write is never refused for its history).
func changedBy(v *state.View, r *http.Request) string {
	c, ok := callerOf(r.Context())
	if !ok {
		return ""
	}
	for _, n := range v.Nodes() {
		if n.ProtocolOf() < 5 {
			return ""
		}
	}
	return c.Name
}

// rollbackService makes an earlier spec of a service its new version:
// the one before the current, or the body's to_version.
func (s *apiServer) rollbackService(r *http.Request) (any, error) {
	var req api.ServiceRollbackRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
	}
	v := s.backend.view()
	svc, err := findServiceIn(v, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	raw, err := s.submit(r, api.CmdRollbackService, api.RollbackServicePayload{Name: svc.Spec.Name, ToVersion: req.ToVersion, By: changedBy(v, r)})
	if err != nil {
		return nil, err
	}
	return s.serviceFromResult(raw)
}

// promoteService continues the service's update held in its canary
// state (state.FSM's applyPromoteService).
func (s *apiServer) promoteService(r *http.Request) (any, error) {
	svc, err := findServiceIn(s.backend.view(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	raw, err := s.submit(r, api.CmdPromoteService, api.PromoteServicePayload{Name: svc.Spec.Name})
	if err != nil {
		return nil, err
	}
	return s.serviceFromResult(raw)
}
