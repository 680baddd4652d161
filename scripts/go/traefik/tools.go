//go:build tools

// Package tools pins the Traefik command built by scripts/build-traefik.sh.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
