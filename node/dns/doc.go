// Package dns is the embedded DNS server every node runs for its tasks.
//
// It answers, case-insensitively and with or without a trailing dot:
//
//   - SERVICE and SERVICE.shoal: A (and AAAA) records of the service's
//     stable address when it has one, otherwise of its running tasks;
//   - tasks.SERVICE[.shoal]: the running tasks' addresses;
//   - LABEL.SERVICE[.shoal]: one task's address, LABEL being its slot (its
//     task ID for a global service); these are the SRV targets;
//   - _PORT._tcp.SERVICE[.shoal] and _PORT._udp.SERVICE[.shoal]: SRV
//     records of a named port, with the targets' addresses in the
//     additional section.
//
// A known name asked for a type it has no record of gets an empty answer
// (NODATA); an unknown name under .shoal gets NXDOMAIN; every other name is
// forwarded to the host's resolvers (SERVFAIL when none answers).
//
// The names come from a Records, swapped atomically by Server.SetRecords
// (or Follow); Snapshot is the implementation built from plain records,
// and FromAPI builds one from the replicated state's services and tasks.
// Answers carry a short TTL (2 s by default) so clients follow task changes.
package dns
