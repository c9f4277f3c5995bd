package blobs

import "sync"

// callerProgress is one caller's Progress, called with increasing done
// only, and never after the caller left.
type callerProgress struct {
	fn     Progress
	dgst   string
	mu     sync.Mutex
	last   int64
	called bool
	closed bool
}

// call passes done and total to fn unless done is not above the last call.
func (c *callerProgress) call(done, total int64) {
	if c.fn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || total < 0 || (c.called && done <= c.last) {
		return
	}
	c.called, c.last = true, done
	c.fn(c.dgst, done, total)
}

// close stops further calls.
func (c *callerProgress) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}
