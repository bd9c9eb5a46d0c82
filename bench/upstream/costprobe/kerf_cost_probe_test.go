//go:build test_performance && kerf_cost_probe

// Prices upstream's plan, which its benchmark does not report. bench/head-to-head.sh
// builds this file, in a scratch copy of this module outside the clone, next to an
// unmodified copy of upstream's scheduling_benchmark_test.go from the module cache
// (Go refuses overlays inside the module cache), as a separate binary: the
// benchmark binary is upstream's package exactly.
//
// A fresh process draws the same pods from the package's seed-42 rand as the
// benchmark's first iteration does, so this prices exactly the plan whose node
// count the benchmark reports. Each NodeClaim costs its cheapest available
// offering compatible with its requirements over its instance-type options,
// which is what the fake cloud provider's Create launches.

package scheduling_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"sigs.k8s.io/karpenter/pkg/cloudprovider/fake"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
	"sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/test"
)

// Package-level state scheduling_benchmark_test.go shares with upstream's suite_test.go.
var (
	ctx           context.Context
	cluster       *state.Cluster
	cloudProvider *fake.CloudProvider
)

func TestKerfCostProbe(t *testing.T) {
	workload := os.Getenv("KERF_COST_PROBE")
	var pods []*corev1.Pod
	var opts []scheduling.Options
	switch workload {
	case "prefrespect":
		pods = makePreferencePods(4000)
	case "prefignore":
		pods = makePreferencePods(4000)
		opts = append(opts, scheduling.IgnorePreferences)
	default:
		n, err := strconv.Atoi(workload)
		if err != nil || n <= 0 {
			t.Fatalf("KERF_COST_PROBE=%q: want a pod count, prefrespect or prefignore", workload)
		}
		pods = makeDiversePods(n)
	}
	ctx = options.ToContext(injection.WithControllerName(context.Background(), "provisioner"), test.Options())
	scheduler, err := setupScheduler(ctx, pods, append(opts, scheduling.NumConcurrentReconciles(5))...)
	if err != nil {
		t.Fatalf("creating scheduler, %s", err)
	}
	results, err := scheduler.Solve(ctx, pods)
	if err != nil {
		t.Fatalf("solve, %s", err)
	}
	cost := 0.0
	for i, n := range results.NewNodeClaims {
		cheapest := math.Inf(1)
		for _, it := range n.InstanceTypeOptions {
			if offerings := it.Offerings.Available().Compatible(n.Requirements); len(offerings) > 0 {
				cheapest = math.Min(cheapest, offerings.Cheapest().Price)
			}
		}
		if math.IsInf(cheapest, 1) {
			t.Fatalf("nodeclaim %d has no available compatible offering", i)
		}
		cost += cheapest
	}
	fmt.Printf("KERF_COST_PROBE workload=%s pods=%d nodes=%d cost=%.4f pod_errors=%d\n",
		workload, len(pods), len(results.NewNodeClaims), cost, len(results.PodErrors))
}
