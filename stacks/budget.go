package stacks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/taskmanager/taskmanager-infra/infra/database"
)

// ConnectionBudget compares the database connections the app may open with what the primary
// accepts. Each API task is one process with one pool; each worker task runs Concurrency
// processes, each with its own pool; a pool opens up to DBPoolSize + DBPoolMaxOverflow.
type ConnectionBudget struct {
	AtDesired, AtMax int // connections at the desired and at the maximum task counts
	// MaxConnections is RDS's default max_connections for the class, LEAST(memory/9531392, 5000);
	// 0 when the class's memory is not known here.
	MaxConnections int
	// ProxyCeiling is the most connections RDS Proxy opens to the primary (its
	// maxConnectionsPercent of MaxConnections); 0 without a proxy. With one, the app's pools
	// connect to the proxy, and only the ceiling and the reserved connections reach the database.
	ProxyCeiling int
}

// Budget computes the connection budget of a config.
func Budget(c *Config) ConnectionBudget {
	perPool := c.App.DBPoolSize + c.App.DBPoolMaxOverflow
	count := func(api, worker int) int { return (api + worker*c.Worker.Concurrency) * perPool }
	b := ConnectionBudget{
		AtDesired: count(c.API.DesiredCount, c.Worker.DesiredCount),
		AtMax:     count(c.API.MaxCapacity, c.Worker.MaxCapacity),
	}
	if gib := instanceMemoryGiB(c.Database.InstanceClass); gib > 0 {
		b.MaxConnections = min(int(float64(gib)*(1<<30)/9531392), 5000)
	}
	if p := c.Database.Proxy; p != nil {
		b.ProxyCeiling = b.MaxConnections * p.MaxConnectionsPercent / 100
	}
	return b
}

// Warning is the budget's warning, or "" when it holds.
func (b ConnectionBudget) Warning(class string) string {
	if b.MaxConnections == 0 {
		return ""
	}
	if b.ProxyCeiling > 0 {
		if free := b.MaxConnections - b.ProxyCeiling; free < database.ReservedConnections {
			return fmt.Sprintf("RDS Proxy may open %d of %s's about %d connections, leaving %d for the migration task, the bastion and the rotation function (want at least %d); "+
				"lower taskmanager:database.proxy.maxConnectionsPercent",
				b.ProxyCeiling, class, b.MaxConnections, free, database.ReservedConnections)
		}
		return ""
	}
	if b.AtMax <= b.MaxConnections {
		return ""
	}
	return fmt.Sprintf("at maxCapacity the API and worker may open %d database connections, above %s's max_connections of about %d (%d at desiredCount); "+
		"lower taskmanager:app.dbPoolSize/dbPoolMaxOverflow or the maximum counts, or put a connection pooler (RDS Proxy) in front",
		b.AtMax, class, b.MaxConnections, b.AtDesired)
}

// instanceMemoryGiB is the memory of the common burstable (t), general (m) and memory (r)
// classes: t and m have 8 GiB at large, r 16 GiB, doubling with each size.
func instanceMemoryGiB(class string) int {
	parts := strings.Split(class, ".")
	if len(parts) != 3 || parts[1] == "" {
		return 0
	}
	family, size := parts[1][0], parts[2]
	small := map[string]int{"micro": 1, "small": 2, "medium": 4}
	if gib, ok := small[size]; ok && family == 't' {
		return gib
	}
	factor := 0
	switch {
	case size == "large":
		factor = 1
	case size == "xlarge":
		factor = 2
	case strings.HasSuffix(size, "xlarge"):
		n, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge"))
		if err != nil {
			return 0
		}
		factor = 2 * n
	default:
		return 0
	}
	switch family {
	case 't', 'm':
		return 8 * factor
	case 'r':
		return 16 * factor
	}
	return 0
}
