package gossip

import "time"

// MemberState is the liveness of a member as this node sees it.
type MemberState int

// Member states. memberlist v0.7.0 has no suspicion callback, so a suspect
// member is reported as MemberAlive until it is declared dead;
// MemberSuspect is kept for API stability and is not produced today.
const (
	MemberAlive MemberState = iota
	MemberSuspect
	MemberDead
	MemberLeft
)

// String returns the lower-case state name.
func (s MemberState) String() string {
	switch s {
	case MemberAlive:
		return "alive"
	case MemberSuspect:
		return "suspect"
	case MemberDead:
		return "dead"
	case MemberLeft:
		return "left"
	}
	return "unknown"
}

// EventType says what happened to a member.
type EventType int

// Event types.
const (
	EventJoin   EventType = iota // member became alive (new, or back from dead/left)
	EventUpdate                  // member's Meta changed
	EventLeave                   // member left gracefully
	EventDead                    // member failed (crash or partition)
)

// String returns the lower-case event name.
func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return "unknown"
}

// Member is one node of the gossip cluster.
type Member struct {
	Name  string      // memberlist / Shoal node name
	Addr  string      // gossip ip:port
	Meta  Meta        // decoded metadata (zero if it failed to decode)
	State MemberState // liveness as seen by this node
	Since time.Time   // when this node saw it enter State
}

// Event is a membership change of a remote member.
type Event struct {
	Type   EventType
	Member Member // the member after the change
}
