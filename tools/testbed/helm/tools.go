//go:build tools

// Package tools pins the main packages built by scripts/testbed-build.sh.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
