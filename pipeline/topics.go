package pipeline

import "github.com/idlink/idlink/eventtypes"

// Agencies returns the agency codes of the contract, from the event-type
// registry (a new slice).
func Agencies() []string { return eventtypes.Agencies() }

// Topics names idlink's Kafka topics. Each agency publishes to a topic of its
// own (so ACLs can keep agencies apart); the consumers read all of them.
type Topics struct {
	prefix string
}

// Topics returns the topic names under the configured prefix.
func (c *Config) Topics() Topics { return Topics{prefix: c.TopicPrefix} }

// Agency is the topic an agency's events are published on.
func (t Topics) Agency(agency string) string { return t.prefix + "events." + agency }

// AllAgencies lists every agency topic.
func (t Topics) AllAgencies() []string {
	agencies := eventtypes.Agencies()
	out := make([]string, len(agencies))
	for i, a := range agencies {
		out[i] = t.Agency(a)
	}
	return out
}

// DeadLetter is the topic rejected events go to.
func (t Topics) DeadLetter() string { return t.prefix + "events.deadletter" }

// IdentityChanges is the topic identity changes are published on.
func (t Topics) IdentityChanges() string { return t.prefix + "identity.changes" }

// AuditLookupsName is the topic of the verification API's audit records,
// before the prefix (compose/lib.sh creates it under this name).
const AuditLookupsName = "audit.lookups"

// AuditLookups is the topic the verification API records every call on.
func (t Topics) AuditLookups() string { return t.prefix + AuditLookupsName }

// All lists every topic idlink uses.
func (t Topics) All() []string {
	return append(t.AllAgencies(), t.DeadLetter(), t.IdentityChanges(), t.AuditLookups())
}

// Group returns the consumer group id for a consumer name.
func (c *Config) Group(name string) string { return c.GroupPrefix + "idlink-" + name }
