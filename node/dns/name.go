package dns

import "strings"

// Zone is the domain the server answers for.
const Zone = "shoal"

// nameKind is what a parsed query name asks for.
type nameKind int

const (
	kindOther   nameKind = iota // not a name this server knows the shape of
	kindApex                    // shoal.
	kindService                 // SERVICE
	kindTasks                   // tasks.SERVICE
	kindTask                    // LABEL.SERVICE
	kindSRV                     // _PORT._PROTO.SERVICE
)

// name is a query name taken apart. Its fields are lower case.
type name struct {
	kind    nameKind
	inZone  bool   // the name ends in .shoal
	service string // kindService, kindTasks, kindTask, kindSRV
	label   string // kindTask
	port    string // kindSRV, without its underscore
	proto   string // kindSRV: "tcp" or "udp"
}

// parseName takes a query name apart, case-insensitively, with or without
// its trailing dot. Names of any other shape, with labels that are not
// letters, digits and inner hyphens (escapes included), are kindOther.
func parseName(qname string) name {
	s := strings.TrimSuffix(lowerASCII(qname), ".")
	var n name
	if s == Zone {
		return name{kind: kindApex, inZone: true}
	}
	if rest, ok := strings.CutSuffix(s, "."+Zone); ok {
		n.inZone, s = true, rest
	}
	labels := strings.Split(s, ".")
	svc := labels[len(labels)-1]
	if !validLabel(svc) {
		return name{inZone: n.inZone}
	}
	switch len(labels) {
	case 1:
		n.kind, n.service = kindService, svc
	case 2:
		n.service = svc
		if labels[0] == "tasks" {
			n.kind = kindTasks
		} else if validLabel(labels[0]) {
			n.kind, n.label = kindTask, labels[0]
		} else {
			return name{inZone: n.inZone}
		}
	case 3:
		port, okPort := strings.CutPrefix(labels[0], "_")
		proto, okProto := strings.CutPrefix(labels[1], "_")
		if !okPort || !okProto || !validLabel(port) || (proto != "tcp" && proto != "udp") {
			return name{inZone: n.inZone}
		}
		n.kind, n.service, n.port, n.proto = kindSRV, svc, port, proto
	default:
		return name{inZone: n.inZone}
	}
	return n
}

// validLabel reports whether s is 1-63 lower-case letters, digits and
// hyphens, not starting or ending with a hyphen: the shape of service
// names, slots, task IDs and port names.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
