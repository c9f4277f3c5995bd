package containerd

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
)

// resolver makes a registry resolver that uses the configured credentials
// and allows plain HTTP only to hosts marked Insecure.
func (r *Runtime) resolver() remotes.Resolver {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          10,
		IdleConnTimeout:       30 * time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	hc := &http.Client{Transport: tr}
	creds := func(host string) (string, string, error) {
		rc := r.registryConfig(host)
		return rc.Username, rc.Password, nil
	}
	hosts := docker.ConfigureDefaultRegistries(
		docker.WithClient(hc),
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthClient(hc), docker.WithAuthCreds(creds))),
		docker.WithPlainHTTP(func(host string) (bool, error) { return r.registryConfig(host).Insecure, nil }),
	)
	return docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
}

// registryConfig finds the settings for host; "registry-1.docker.io" and
// "index.docker.io" also match an entry for "docker.io".
func (r *Runtime) registryConfig(host string) RegistryConfig {
	if rc, ok := r.cfg.Registries[host]; ok {
		return rc
	}
	switch host {
	case "registry-1.docker.io", "index.docker.io":
		return r.cfg.Registries["docker.io"]
	}
	return RegistryConfig{}
}
