package subs

// Subscribers returns the number of client subscriptions of the hub.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	total := 0
	for _, f := range h.feeds {
		f.mu.Lock()
		total += len(f.members)
		f.mu.Unlock()
	}
	return total
}
