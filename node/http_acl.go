package node

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"sort"

	"github.com/shoal-project/shoal/api"
)

// routeACL serves API token management: admin only.
func (s *apiServer) routeACL() {
	s.route("GET /v1/acl/tokens", api.ACLAdmin, s.listTokens)
	s.route("POST /v1/acl/tokens", api.ACLAdmin, s.createToken)
	s.route("DELETE /v1/acl/tokens/{ref}", api.ACLAdmin, s.revokeToken)
	s.route("GET /v1/acl/whoami", api.ACLReadOnly, s.whoami)
}

func (s *apiServer) listTokens(r *http.Request) (any, error) {
	out := []api.ACLTokenInfo{}
	for _, t := range s.view().ACLTokens() {
		out = append(out, t.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// createToken draws the secret here, on the node that answers, and
// proposes only its hash: the secret is in this answer and nowhere else.
func (s *apiServer) createToken(r *http.Request) (any, error) {
	var req api.CreateACLTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := api.ValidACLTokenName(req.Name); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	if _, err := api.ParseACLRole(string(req.Role)); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	if req.TTL < 0 {
		return nil, api.Errorf(api.CodeInvalid, "ttl must not be negative")
	}
	secret := api.NewAPIToken()
	raw, err := s.submit(r, api.CmdCreateACLToken, api.CreateACLTokenPayload{
		Name: req.Name, Role: req.Role, SecretHash: api.SecretHash(secret), TTL: req.TTL})
	if err != nil {
		return nil, err
	}
	var tok api.ACLToken
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, err
	}
	return api.CreateACLTokenResponse{ACLTokenInfo: tok.Info(), Secret: secret}, nil
}

func (s *apiServer) revokeToken(r *http.Request) (any, error) {
	raw, err := s.submit(r, api.CmdRevokeACLToken, api.RevokeACLTokenPayload{Token: r.PathValue("ref")})
	if err != nil {
		return nil, err
	}
	var tok api.ACLToken
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, err
	}
	return tok.Info(), nil
}

// whoami says whom the request acts as.
func (s *apiServer) whoami(r *http.Request) (any, error) {
	c, _ := callerOf(r.Context())
	return api.WhoAmI{Name: c.Name, Role: c.Role}, nil
}

// getCA returns the cluster CA certificate that signs every node's HTTPS
// certificate, and its fingerprint for clients to pin.
func (s *apiServer) getCA(r *http.Request) (any, error) {
	der, fp, err := s.certs.CA()
	if err != nil {
		return nil, api.Errorf(api.CodeUnavailable, "%v", err)
	}
	return api.ClusterCA{Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Fingerprint: fp}, nil
}
