//go:build tools

// Package upstreamkwok pins sigs.k8s.io/karpenter so that
// bench/controller-head-to-head.sh builds upstream Karpenter's kwok controller
// (the main package sigs.k8s.io/karpenter/kwok) from the module cache with
// exactly the versions in go.sum.
package upstreamkwok

import (
	_ "sigs.k8s.io/karpenter/kwok"
)
