package dns

// webRecords is a cluster with service web (3 running tasks, ports http
// and dns), db (no running task) and a global service agent.
func webRecords() *Snapshot {
	return NewSnapshot(
		[]Service{
			{Name: "web", Ports: []Port{{Name: "http", Port: 8080}, {Name: "dns", Protocol: "udp", Port: 5353}}},
			{Name: "db", Ports: []Port{{Name: "pg", Port: 5432}}},
			{Name: "agent"},
		},
		[]Task{
			{Service: "web", Label: "1", IP: "10.42.1.2"},
			{Service: "web", Label: "2", IP: "10.42.2.2"},
			{Service: "web", Label: "3", IP: "10.42.3.2"},
			{Service: "agent", Label: "0af3", IP: "10.42.1.9"},
		},
	)
}
