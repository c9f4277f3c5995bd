package node

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/shoal-project/shoal/api"
)

// routeSecrets serves secrets: metadata to readers, creation and removal
// to admins. No route ever answers with a secret's value.
func (s *apiServer) routeSecrets() {
	s.route("GET /v1/secrets", api.ACLReadOnly, s.listSecrets)
	s.route("GET /v1/secrets/{name}", api.ACLReadOnly, s.getSecret)
	s.route("POST /v1/secrets", api.ACLAdmin, s.createSecret)
	s.route("DELETE /v1/secrets/{name}", api.ACLAdmin, s.removeSecret)
}

func (s *apiServer) listSecrets(r *http.Request) (any, error) {
	v := s.view()
	out := []api.SecretInfo{}
	for _, sec := range v.Secrets() {
		info := sec.Info()
		info.UsedBy = v.SecretUsers(sec.Name)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *apiServer) getSecret(r *http.Request) (any, error) {
	v := s.view()
	sec, ok := v.Secret(r.PathValue("name"))
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no secret named %q", r.PathValue("name"))
	}
	info := sec.Info()
	info.UsedBy = v.SecretUsers(sec.Name)
	return info, nil
}

// createSecret hands the value to the leader, which seals it before
// anything is written (stampSecret).
func (s *apiServer) createSecret(r *http.Request) (any, error) {
	var req api.CreateSecretRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	defer clear(req.Data)
	if err := api.ValidSecretName(req.Name); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	switch {
	case len(req.Data) == 0:
		return nil, api.Errorf(api.CodeInvalid, "secret %s: the value is empty", req.Name)
	case len(req.Data) > api.MaxSecretSize:
		return nil, api.Errorf(api.CodeTooLarge, "secret %s: the value is %d bytes, more than the %d a secret may hold", req.Name, len(req.Data), api.MaxSecretSize)
	}
	raw, err := s.submit(r, api.CmdCreateSecret, api.CreateSecretPayload{Name: req.Name, Data: req.Data})
	if err != nil {
		return nil, err
	}
	var info api.SecretInfo
	return info, json.Unmarshal(raw, &info)
}

func (s *apiServer) removeSecret(r *http.Request) (any, error) {
	raw, err := s.submit(r, api.CmdRemoveSecret, api.RemoveSecretPayload{Name: r.PathValue("name")})
	if err != nil {
		return nil, err
	}
	var info api.SecretInfo
	return info, json.Unmarshal(raw, &info)
}
