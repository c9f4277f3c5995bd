package main

import (
	"fmt"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// portsColumn is a service's ports as `service ls` shows them, like
// docker's: "*:30001->80/tcp" for an ingress port (every node accepts on
// it), "8080->80/tcp (host)" for a host port, from the allocated endpoint
// when the service has one, else from the spec (a cluster without a
// service CIDR: its published ports are host ports).
func portsColumn(s api.Service) string {
	var out []string
	if len(s.Endpoint.Ports) > 0 {
		for _, p := range s.Endpoint.Ports {
			if p.Published != 0 {
				out = append(out, portText(p.Mode, p.Published, p.Target, p.Protocol))
			}
		}
	} else {
		for _, p := range s.Spec.Ports {
			if p.Port != 0 {
				out = append(out, portText(p.PublishMode(), p.Port, p.Target(), p.Protocol))
			}
		}
	}
	return strings.Join(out, ",")
}

func portText(mode string, published, target uint16, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	if mode == api.PublishIngress {
		return fmt.Sprintf("*:%d->%d/%s", published, target, proto)
	}
	return fmt.Sprintf("%d->%d/%s (host)", published, target, proto)
}
