//go:build tools

// Package tools pins the Prometheus command built by scripts/build-prometheus.sh.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
)
