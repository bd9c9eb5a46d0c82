//go:build tools

// Package tools pins the main packages built by scripts/testbed-build.sh.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
