package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// clientConfig gathers where the agent is and how to talk to it: each
// setting from its flag, else its environment variable.
func (e *cliEnv) clientConfig() (api.ClientConfig, error) {
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return strings.TrimSpace(e.getenv(env))
	}
	cfg := api.ClientConfig{
		Addr:  pick(e.addr, "SHOAL_ADDR"),
		Token: pick(e.token, "SHOAL_TOKEN"),
		TLS:   api.TLSOptions{CAFile: pick(e.caCert, "SHOAL_CA_CERT"), CAFingerprint: pick(e.caFingerprint, "SHOAL_CA_FINGERPRINT")},
	}
	if file := pick(e.tokenFile, "SHOAL_TOKEN_FILE"); file != "" && e.token == "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return cfg, fmt.Errorf("token file: %v", unwrapPath(err))
		}
		tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if cfg.Token = strings.TrimSpace(tok); cfg.Token == "" {
			return cfg, fmt.Errorf("token file %s is empty", file)
		}
	}
	return cfg, nil
}
