package eventbus

import (
	"cmp"
	"slices"
)

// SubscriptionInfo describes one live subscription of a [Bus].
type SubscriptionInfo struct {
	Subject string // the subject or pattern
	Async   bool   // delivered on the subscription's own goroutine
	Remote  bool   // received from NATS
	Dropped uint64 // events lost to a full buffer
}

// Subscriptions returns the bus's live subscriptions, by subject: what an
// operator's page shows of it.
func (b *Bus) Subscriptions() []SubscriptionInfo {
	b.mu.Lock()
	out := make([]SubscriptionInfo, 0, len(b.subs))
	for s := range b.subs {
		out = append(out, SubscriptionInfo{Subject: s.pattern, Async: s.local != nil && s.run != nil, Remote: s.local == nil, Dropped: s.Dropped()})
	}
	b.mu.Unlock()
	slices.SortStableFunc(out, func(a, b SubscriptionInfo) int { return cmp.Compare(a.Subject, b.Subject) })
	return out
}
