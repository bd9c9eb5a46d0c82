//go:build tools

// Package upstream pins sigs.k8s.io/karpenter so that head-to-head.sh can run
// its scheduling benchmark from the module cache with the exact versions in go.sum.
package upstream

import (
	_ "sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
)
