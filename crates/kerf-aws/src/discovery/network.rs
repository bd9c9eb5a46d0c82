//! Subnets and security groups: fetched whole (DescribeSubnets,
//! DescribeSecurityGroups) and selected by pure functions over that list, so
//! one refresh serves every node class and resolution is testable without AWS.
//!
//! Selector terms are ORed; inside a term every condition must hold: an `id`,
//! a security group `name`, and tags where the value `*` only asks for the key.
//! A node class without terms selects what is tagged
//! `kubernetes.io/cluster/<cluster>` (any value).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Tag;
use kerf_cloud::provider::Result;

use crate::error::{aws_error, bad_answer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetInfo {
    pub id: String,
    pub zone: String,
    pub zone_id: Option<String>,
    pub vpc_id: Option<String>,
    pub available_ips: i64,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// One selector term, the shape every node-class selector reduces to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectorTerm {
    pub tags: BTreeMap<String, String>,
    pub id: Option<String>,
    pub name: Option<String>,
}

impl SelectorTerm {
    pub fn tag(key: impl Into<String>, value: impl Into<String>) -> Self {
        SelectorTerm {
            tags: BTreeMap::from([(key.into(), value.into())]),
            ..Default::default()
        }
    }

    pub fn id(id: impl Into<String>) -> Self {
        SelectorTerm {
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// Whether a resource with this id, name and tags is selected by the term.
    pub fn matches(&self, id: &str, name: Option<&str>, tags: &BTreeMap<String, String>) -> bool {
        self.id.as_deref().is_none_or(|want| want == id)
            && self.name.as_deref().is_none_or(|want| Some(want) == name)
            && self.tags.iter().all(|(k, v)| match tags.get(k) {
                Some(have) => v == "*" || have == v,
                None => false,
            })
    }
}

/// The cluster tag discovery uses when a node class names no terms.
pub fn cluster_tag_key(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

/// `terms`, or the cluster-tag default when there are none.
pub fn terms_or_default(terms: Vec<SelectorTerm>, cluster: &str) -> Vec<SelectorTerm> {
    if terms.is_empty() {
        vec![SelectorTerm::tag(cluster_tag_key(cluster), "*")]
    } else {
        terms
    }
}

/// Subnets any term selects, sorted by zone then id.
pub fn select_subnets(terms: &[SelectorTerm], subnets: &[SubnetInfo]) -> Vec<SubnetInfo> {
    let mut out: Vec<SubnetInfo> = subnets
        .iter()
        .filter(|s| terms.iter().any(|t| t.matches(&s.id, None, &s.tags)))
        .cloned()
        .collect();
    out.sort_by(|a, b| a.zone.cmp(&b.zone).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Per zone, the subnet with the most free IPv4 addresses (ties to the lower id).
pub fn best_subnet_per_zone(subnets: &[SubnetInfo]) -> BTreeMap<String, SubnetInfo> {
    let mut out: BTreeMap<String, SubnetInfo> = BTreeMap::new();
    for s in subnets {
        let better = out.get(&s.zone).is_none_or(|b| {
            s.available_ips > b.available_ips || (s.available_ips == b.available_ips && s.id < b.id)
        });
        if better {
            out.insert(s.zone.clone(), s.clone());
        }
    }
    out
}

/// Security groups any term selects, sorted by id.
pub fn select_security_groups(
    terms: &[SelectorTerm],
    groups: &[SecurityGroupInfo],
) -> Vec<SecurityGroupInfo> {
    let mut out: Vec<SecurityGroupInfo> = groups
        .iter()
        .filter(|g| {
            terms
                .iter()
                .any(|t| t.matches(&g.id, g.name.as_deref(), &g.tags))
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub async fn describe_subnets(ec2: &aws_sdk_ec2::Client) -> Result<Vec<SubnetInfo>> {
    let mut pages = ec2.describe_subnets().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeSubnets", e))?;
        for s in page.subnets() {
            let id = s
                .subnet_id()
                .ok_or_else(|| bad_answer("DescribeSubnets", "a subnet lacks SubnetId"))?;
            let zone = s.availability_zone().ok_or_else(|| {
                bad_answer(
                    "DescribeSubnets",
                    format!("subnet {id}: AvailabilityZone is missing"),
                )
            })?;
            out.push(SubnetInfo {
                id: id.to_string(),
                zone: zone.to_string(),
                zone_id: s.availability_zone_id().map(str::to_string),
                vpc_id: s.vpc_id().map(str::to_string),
                available_ips: s.available_ip_address_count().map_or(0, i64::from),
                tags: tag_map(s.tags()),
            });
        }
    }
    Ok(out)
}

pub async fn describe_security_groups(ec2: &aws_sdk_ec2::Client) -> Result<Vec<SecurityGroupInfo>> {
    let mut pages = ec2.describe_security_groups().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        for g in page.security_groups() {
            let id = g.group_id().ok_or_else(|| {
                bad_answer("DescribeSecurityGroups", "a security group lacks GroupId")
            })?;
            out.push(SecurityGroupInfo {
                id: id.to_string(),
                name: g.group_name().map(str::to_string),
                vpc_id: g.vpc_id().map(str::to_string),
                tags: tag_map(g.tags()),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, zone: &str, ips: i64, tags: &[(&str, &str)]) -> SubnetInfo {
        SubnetInfo {
            id: id.into(),
            zone: zone.into(),
            zone_id: None,
            vpc_id: None,
            available_ips: ips,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn wildcard_exact_and_id_terms() {
        let subnets = [
            subnet(
                "subnet-1",
                "us-east-1a",
                10,
                &[("kubernetes.io/cluster/c", "owned")],
            ),
            subnet(
                "subnet-2",
                "us-east-1b",
                10,
                &[("kubernetes.io/cluster/c", "shared")],
            ),
            subnet("subnet-3", "us-east-1c", 10, &[("team", "x")]),
        ];
        let default = terms_or_default(vec![], "c");
        let ids: Vec<_> = select_subnets(&default, &subnets)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["subnet-1", "subnet-2"]);
        let exact = [SelectorTerm::tag("kubernetes.io/cluster/c", "owned")];
        assert_eq!(select_subnets(&exact, &subnets).len(), 1);
        let by_id = [SelectorTerm::id("subnet-3"), SelectorTerm::tag("team", "y")];
        let picked = select_subnets(&by_id, &subnets);
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].id, "subnet-3");
    }

    #[test]
    fn most_free_ips_per_zone() {
        let subnets = [
            subnet("subnet-a1", "us-east-1a", 100, &[]),
            subnet("subnet-a2", "us-east-1a", 250, &[]),
            subnet("subnet-b2", "us-east-1b", 50, &[]),
            subnet("subnet-b1", "us-east-1b", 50, &[]),
        ];
        let best = best_subnet_per_zone(&subnets);
        assert_eq!(best["us-east-1a"].id, "subnet-a2");
        assert_eq!(
            best["us-east-1b"].id, "subnet-b1",
            "tie goes to the lower id"
        );
    }
}
