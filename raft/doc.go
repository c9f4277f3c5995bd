// Package raft is Shoal's consensus adapter: hashicorp/raft with a bbolt
// log store and the libp2p transport, driving a state.FSM (fsmAdapter);
// proposing commands, leadership and its verification, membership changes,
// snapshot restores and quorum-loss recovery; and the pure planner that
// decides which nodes are Raft voters.
package raft
