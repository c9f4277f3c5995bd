package node

import (
	"io"
	"net/http"
	"strconv"

	"github.com/shoal-project/shoal/api"
)

// routeSnapshot adds the snapshot endpoints: GET /v1/snapshot returns a
// snapshot file; POST /v1/snapshot/restore takes one.
func (s *apiServer) routeSnapshot() {
	s.handle("GET /v1/snapshot", api.ACLAdmin, withDeadlines(transferTimeout, transferTimeout, s.saveSnapshot))
	s.handle("POST /v1/snapshot/restore", api.ACLAdmin, withDeadlines(transferTimeout, transferTimeout, s.restoreSnapshot))
}

func (s *apiServer) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	b, err := s.backend.saveBackup(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (s *apiServer) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	file, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxSnapshotUpload))
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.backend.restoreBackup(r.Context(), file, r.URL.Query().Get("allow_foreign") == "true")
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, res)
}
