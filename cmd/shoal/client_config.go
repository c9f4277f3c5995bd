package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// clientConfig gathers where the agent is and how to talk to it: each
// setting from its flag, else its environment variable, else the current
// context (shoal context use), else the local socket.
func (e *cliEnv) clientConfig() (api.ClientConfig, error) {
	ctx, _, ok, err := e.currentContext()
	if err != nil && (e.addr == "" && e.getenv("SHOAL_ADDR") == "") {
		return api.ClientConfig{}, err
	}
	if ok && (e.addr != "" || e.getenv("SHOAL_ADDR") != "") {
		ctx = clientContext{} // an explicit address leaves the context out
	}
	pick := func(flag, env string, fromContext ...string) string {
		if flag != "" {
			return flag
		}
		if v := strings.TrimSpace(e.getenv(env)); v != "" {
			return v
		}
		if len(fromContext) > 0 {
			return fromContext[0]
		}
		return ""
	}
	cfg := api.ClientConfig{
		Addr:  pick(e.addr, "SHOAL_ADDR", ctx.Addr),
		Token: pick(e.token, "SHOAL_TOKEN", ctx.Token),
		TLS: api.TLSOptions{CAFile: pick(e.caCert, "SHOAL_CA_CERT", ctx.CACert),
			CAFingerprint: pick(e.caFingerprint, "SHOAL_CA_FINGERPRINT", ctx.CAFingerprint)},
	}
	if file := pick(e.tokenFile, "SHOAL_TOKEN_FILE", ctx.TokenFile); file != "" && e.token == "" && e.getenv("SHOAL_TOKEN") == "" {
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
