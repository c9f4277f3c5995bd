package api

import (
	"strings"
	"testing"
)

func TestParseClusterCIDR(t *testing.T) {
	for _, ok := range []string{"10.42.0.0/16", "10.0.0.0/8", "192.168.4.0/22", "172.16.0.0/12"} {
		if _, err := ParseClusterCIDR(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"10.42.0.0":      "not an address/prefix",
		"fd00::/48":      "must be IPv4",
		"10.42.0.0/23":   "not within /8 to /22",
		"10.42.0.0/24":   "not within /8 to /22",
		"0.0.0.0/7":      "not within /8 to /22",
		"10.42.1.0/16":   "host bits are set (did you mean 10.42.0.0/16?)",
		"127.0.0.0/16":   "overlaps the loopback",
		"64.0.0.0/2":     "not within",
		"120.0.0.0/5":    "not within",
		"126.0.0.0/7":    "not within",
		"127.128.0.0/12": "overlaps the loopback",
	} {
		_, err := ParseClusterCIDR(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
	if _, err := ParseClusterCIDR("120.0.0.0/8"); err != nil {
		t.Error(err)
	}
	if _, err := ParseClusterCIDR("112.0.0.0/4"); err == nil {
		t.Error("a /4 was accepted")
	}
}
