package patroni

import "fmt"

// Health is the verdict on a cluster view.
type Health struct {
	Streaming int      // non-leader members streaming
	Problems  []string // empty when healthy
}

// Health judges the cluster: exactly one leader, every other member
// streaming, every lag known and at most maxLag bytes (from GET /cluster).
func (c *Cluster) Health(maxLag int64) Health {
	var h Health
	leaders := 0
	for _, m := range c.Members {
		if m.Role == RoleLeader || m.Role == RoleStandbyLeader {
			leaders++
			continue
		}
		if !c.Streaming(m) {
			h.Problems = append(h.Problems, fmt.Sprintf("member %s is not streaming (state %q)", m.Name, m.State))
			continue
		}
		h.Streaming++
		switch {
		case m.LagBytes == nil:
			h.Problems = append(h.Problems, fmt.Sprintf("member %s: lag unknown", m.Name))
		case *m.LagBytes > maxLag:
			h.Problems = append(h.Problems, fmt.Sprintf("member %s lags %d bytes (more than %d)", m.Name, *m.LagBytes, maxLag))
		}
	}
	if leaders != 1 {
		h.Problems = append(h.Problems, fmt.Sprintf("%d leaders, want exactly 1", leaders))
	}
	if h.Problems == nil {
		h.Problems = []string{}
	}
	return h
}
