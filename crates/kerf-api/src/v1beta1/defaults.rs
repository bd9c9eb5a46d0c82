//! The v1beta1 CRDs' defaults, which the API server applies to a v1beta1
//! object before it is converted: a manifest means what it meant to
//! Karpenter v0.37, e.g. an IMDS hop limit of 2 where v1 defaults to 1.

use super::{Budget, ConsolidationPolicy, EC2NodeClass, NodePool};
use crate::duration::NillableDuration;
use crate::v1::MetadataOptions;

impl NodePool {
    /// `consolidationPolicy: WhenUnderutilized`, `expireAfter: 720h`,
    /// budgets `[{nodes: 10%}]` where unset. Idempotent.
    pub fn set_defaults(&mut self) {
        let d = &mut self.spec.disruption;
        d.consolidation_policy
            .get_or_insert(ConsolidationPolicy::WhenUnderutilized);
        d.expire_after
            .get_or_insert(NillableDuration::from_secs(720 * 3600));
        d.budgets.get_or_insert_with(|| {
            vec![Budget {
                nodes: "10%".to_string(),
                schedule: None,
                duration: None,
            }]
        });
    }
}

impl EC2NodeClass {
    /// The metadata options, with v1beta1's hop limit of 2. Idempotent.
    pub fn set_defaults(&mut self) {
        let m = self
            .spec
            .metadata_options
            .get_or_insert_with(MetadataOptions::default);
        m.http_endpoint.get_or_insert_with(|| "enabled".to_string());
        m.http_protocol_ipv6
            .get_or_insert_with(|| "disabled".to_string());
        m.http_put_response_hop_limit.get_or_insert(2);
        m.http_tokens.get_or_insert_with(|| "required".to_string());
    }
}
