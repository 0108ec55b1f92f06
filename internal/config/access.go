package config

import (
	"slices"
	"strconv"
	"strings"
)

// validateAccess checks the access section and what it names elsewhere.
func (c *Config) validateAccess(p *problems) {
	if err := c.Access.Validate(); err != nil {
		*p = append(*p, strings.Split(err.Error(), "\n")...)
	}
	names := make([]string, 0, len(c.Networks))
	for _, n := range c.Networks {
		names = append(names, n.Name)
	}
	known := func(n string) bool { return slices.Contains(names, n) }
	for name := range c.Access.Networks {
		if !known(name) {
			p.add("access.networks."+name, "no network is named %q: use one of %s", name, strings.Join(names, ", "))
		}
	}
	for i, k := range c.Access.Keys {
		for _, n := range k.Networks {
			if !known(n) {
				p.add("access.keys["+strconv.Itoa(i)+"].networks", "no network is named %q: use one of %s", n, strings.Join(names, ", "))
			}
		}
	}
	if c.Access.SharedLimits && c.Admin.RedisURL == "" {
		p.add("access.shared_limits", "needs Redis: set redis_url (or admin.redis_url), or remove shared_limits to count locally")
	}
}
