//! v1beta1 documents (`karpenter.sh/v1beta1` NodePool and NodeClaim,
//! `karpenter.k8s.aws/v1beta1` EC2NodeClass): read strictly as v1beta1,
//! given the v1beta1 CRD defaults, checked by v1beta1's rules, then converted
//! to v1 as Karpenter v1.0's conversion webhook does and stored like a v1
//! document, so they plan exactly as their v1 twins.
//!
//! A v1beta1 NodeClaim's `expireAfter` comes from its NodePool, which may be
//! read after it: [`finish`] fills it in once the whole input is in.

use kerf_api::v1;
use kerf_api::v1beta1::{self, convert};
use kerf_state::{ClusterState, StateError};
use serde_json::Value;

use crate::error::{Location, SimError};
use crate::load::{Loaded, invalid, parse, put};

/// Reads, checks, converts and stores one v1beta1 document of `kind`.
pub(crate) fn apply(
    loaded: &mut Loaded,
    at: &Location,
    kind: &str,
    value: Value,
) -> Result<(), SimError> {
    let state = &mut loaded.state;
    let conversion = |e: convert::ConversionError| {
        invalid(at, StateError::field(e.kind, e.name, e.field, e.message))
    };
    match kind {
        "NodePool" => {
            let mut np: v1beta1::NodePool = parse(at, value)?;
            np.set_defaults();
            np.validate().map_err(|e| invalid(at, e.into()))?;
            put(
                state,
                at,
                convert::node_pool_to_v1(&np).map_err(conversion)?,
            )
        }
        "EC2NodeClass" => {
            let mut nc: v1beta1::EC2NodeClass = parse(at, value)?;
            nc.set_defaults();
            nc.validate().map_err(|e| invalid(at, e.into()))?;
            put(state, at, convert::ec2_node_class_to_v1(&nc))
        }
        "NodeClaim" => {
            let nc: v1beta1::NodeClaim = parse(at, value)?;
            nc.validate().map_err(|e| invalid(at, e.into()))?;
            let claim = convert::node_claim_to_v1(&nc, None).map_err(conversion)?;
            let key = claim.metadata.name.clone().unwrap_or_default();
            put(state, at, claim)?;
            loaded.v1beta1_claims.push(key);
            Ok(())
        }
        other => Err(SimError::Input {
            at: at.clone(),
            message: format!("kind: {other:?} has no v1beta1 form"),
        }),
    }
}

/// Gives each v1beta1 NodeClaim its NodePool's `expireAfter`, as the
/// conversion webhook looks the pool up (a claim without one keeps the v1
/// default).
pub(crate) fn finish(loaded: &mut Loaded) -> Result<(), SimError> {
    let state: &mut ClusterState = &mut loaded.state;
    for key in std::mem::take(&mut loaded.v1beta1_claims) {
        let Some(claim) = state.get::<v1::NodeClaim>(&key) else {
            continue;
        };
        let pool = claim
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(kerf_api::labels::NODEPOOL))
            .and_then(|name| state.get::<v1::NodePool>(name));
        let Some(expire_after) = pool.and_then(|p| p.spec.template.spec.expire_after) else {
            continue;
        };
        let mut claim = claim.clone();
        claim.spec.expire_after = Some(expire_after);
        state
            .apply(claim)
            .map_err(|e| SimError::Inconsistent(e.to_string()))?;
    }
    Ok(())
}
