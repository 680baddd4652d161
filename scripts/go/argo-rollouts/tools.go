//go:build tools

// Pins the controller's main package so `go mod tidy` keeps everything it needs.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
