package raft

import (
	"bytes"
	"crypto/ed25519"

	"github.com/shoal-project/shoal/api"
)

func testCluster() api.Cluster {
	return api.Cluster{
		ID:         "cluster-1",
		SigningKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
		TokenNonce: []byte("nonce-1"),
		GossipKey:  bytes.Repeat([]byte{1}, 32),
	}
}

func testNode(id, name string) api.Node {
	return api.Node{ID: id, Name: name, P2PAddr: "10.0.0.1:7000", GossipAddr: "10.0.0.1:7001",
		Resources: api.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30}, Runtimes: []string{"process"}}
}

func testSpec(name string) api.ServiceSpec {
	return api.ServiceSpec{Name: name, Runtime: "process", Command: []string{"sleep", "1000"}, Mode: api.ModeReplicated, Replicas: 3}
}
