//! What a cloud can launch: instance types with their capacity, the overhead
//! the kubelet and OS keep back, their labels, and their offerings (zone ×
//! capacity type × price). Cloud providers produce these; the scheduler only
//! reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::requirements::{Requirement, Requirements};
use crate::resources::Resources;

pub const CAPACITY_TYPE_SPOT: &str = "spot";
pub const CAPACITY_TYPE_ON_DEMAND: &str = "on-demand";
pub const CAPACITY_TYPE_RESERVED: &str = "reserved";

/// One place and purchase option an instance type can be launched with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    pub zone: String,
    /// The zone's ID (`use1-az1`), the node's `topology.k8s.aws/zone-id`:
    /// the launch subnet's on AWS. Zone names map to IDs per account, so a
    /// catalogue's are representative. Absent in old snapshots and custom
    /// catalogues; an offering without one is not ruled out by a zone-id
    /// requirement (upstream offerings allow undefined well-known labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    pub capacity_type: String,
    /// US dollars per hour.
    pub price: f64,
    pub available: bool,
}

/// Resources a node keeps back from pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overhead {
    pub kube_reserved: Resources,
    pub system_reserved: Resources,
    pub eviction_threshold: Resources,
}

impl Overhead {
    pub fn total(&self) -> Resources {
        self.kube_reserved
            .plus(&self.system_reserved)
            .plus(&self.eviction_threshold)
    }
}

/// A launchable machine shape, already resolved for one node template (its
/// kubelet settings decide max pods and reservations, so overhead is per template).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    /// Single-valued labels every node of this type carries (arch, os, family, size, ...).
    pub labels: BTreeMap<String, String>,
    /// Labels plus `zone In [...]`, `capacity-type In [...]` and, when they
    /// carry IDs, `zone-id In [...]` over available offerings.
    pub requirements: Requirements,
    pub capacity: Resources,
    pub overhead: Overhead,
    pub offerings: Vec<Offering>,
    /// `capacity − overhead`, computed once.
    allocatable: Resources,
}

/// Instance labels a type may lack (GPUs, accelerators, local NVMe; the
/// category, family, generation and size of a name outside AWS's scheme; a
/// bandwidth, EBS bandwidth, hypervisor or CPU fact the catalogue does not
/// know; the Windows build of a Linux type). As in Karpenter's AWS provider
/// (`computeRequirements`), a type without one has it as `DoesNotExist`, so
/// `In`/`Gt`/`Exists` on the key rule the type out while `NotIn`/`DoesNotExist`
/// still accept it. The zone ID is not listed: as upstream, a type whose
/// offerings carry zone IDs has `zone-id In [...]` (see [`InstanceType::new`]),
/// and one whose offerings carry none leaves the key undefined.
pub const LABELS_ABSENT_MEANS_DOES_NOT_EXIST: &[&str] = &[
    kerf_api::labels::INSTANCE_CATEGORY,
    kerf_api::labels::INSTANCE_FAMILY,
    kerf_api::labels::INSTANCE_GENERATION,
    kerf_api::labels::INSTANCE_SIZE,
    kerf_api::labels::INSTANCE_NETWORK_BANDWIDTH,
    kerf_api::labels::INSTANCE_HYPERVISOR,
    kerf_api::labels::INSTANCE_CPU_MANUFACTURER,
    kerf_api::labels::INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
    kerf_api::labels::INSTANCE_EBS_BANDWIDTH,
    kerf_api::labels::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
    kerf_api::labels::NITRO_SANDBOX,
    kerf_api::labels::INSTANCE_CAPABILITY_FLEX,
    kerf_api::labels::WINDOWS_BUILD,
    kerf_api::labels::INSTANCE_GPU_NAME,
    kerf_api::labels::INSTANCE_GPU_MANUFACTURER,
    kerf_api::labels::INSTANCE_GPU_COUNT,
    kerf_api::labels::INSTANCE_GPU_MEMORY,
    kerf_api::labels::INSTANCE_ACCELERATOR_NAME,
    kerf_api::labels::INSTANCE_ACCELERATOR_MANUFACTURER,
    kerf_api::labels::INSTANCE_ACCELERATOR_COUNT,
    kerf_api::labels::INSTANCE_LOCAL_NVME,
    // Set only on reserved offerings, which kerf does not launch (see
    // docs/differences.md): a pod that requires a reservation stays pending.
    kerf_api::labels::CAPACITY_RESERVATION_ID,
    kerf_api::labels::CAPACITY_RESERVATION_TYPE,
    kerf_api::labels::CAPACITY_RESERVATION_INTERRUPTIBLE,
];

impl InstanceType {
    pub fn new(
        name: impl Into<String>,
        mut labels: BTreeMap<String, String>,
        capacity: Resources,
        overhead: Overhead,
        offerings: Vec<Offering>,
    ) -> Self {
        let name = name.into();
        labels.insert(kerf_api::labels::INSTANCE_TYPE.to_string(), name.clone());
        let mut requirements = Requirements::from_labels(&labels);
        for &key in LABELS_ABSENT_MEANS_DOES_NOT_EXIST {
            if !labels.contains_key(key) {
                requirements.add(Requirement::does_not_exist(key));
            }
        }
        let available = offerings.iter().filter(|o| o.available);
        requirements.add(Requirement::in_values(
            kerf_api::labels::ZONE,
            available.clone().map(|o| o.zone.clone()),
        ));
        // Upstream `computeRequirements` (types.go): only when offerings have IDs.
        if available.clone().any(|o| o.zone_id.is_some()) {
            requirements.add(Requirement::in_values(
                kerf_api::labels::ZONE_ID,
                available.clone().filter_map(|o| o.zone_id.clone()),
            ));
        }
        requirements.add(Requirement::in_values(
            kerf_api::labels::CAPACITY_TYPE,
            available.map(|o| o.capacity_type.clone()),
        ));
        let allocatable = capacity.minus(&overhead.total()).clamp_non_negative();
        InstanceType {
            name,
            labels,
            requirements,
            capacity,
            overhead,
            offerings,
            allocatable,
        }
    }

    /// The OS a node of this type boots under `requirements` when its labels
    /// do not say (amd64 types run Linux and Windows): Linux, the default AMI
    /// family's, when both allow it, else the first both allow.
    pub fn launch_os(&self, requirements: &Requirements) -> Option<String> {
        self.launch_value(kerf_api::labels::OS, requirements)
    }

    /// The value of a label the type offers a choice of (its requirements,
    /// not its labels) that a node launched under `requirements` carries: the
    /// launch default of [`kerf_api::labels::LAUNCH_DEFAULTS`] when both allow
    /// it, else the first value both allow. A single-valued label is the label.
    pub fn launch_value(&self, key: &str, requirements: &Requirements) -> Option<String> {
        if let Some(value) = self.labels.get(key) {
            return Some(value.clone());
        }
        let offered = self.requirements.get(key)?;
        let allowed = |v: &str| offered.has(v) && requirements.get(key).is_none_or(|r| r.has(v));
        let default = kerf_api::labels::LAUNCH_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v);
        if let Some(d) = default.filter(|d| allowed(d)) {
            return Some(d.to_string());
        }
        if offered.complement {
            return None;
        }
        offered.values.iter().find(|v| allowed(v)).cloned()
    }

    /// Every label a node of this type launched under `requirements` carries
    /// from the type: its own labels and, for each label of
    /// [`kerf_api::labels::LAUNCH_DEFAULTS`] it offers a choice of, the value
    /// [`Self::launch_value`] picks. Zone and capacity type come from the
    /// offering launched, not from here.
    pub fn launch_labels(&self, requirements: &Requirements) -> BTreeMap<String, String> {
        let mut out = self.labels.clone();
        for (key, _) in kerf_api::labels::LAUNCH_DEFAULTS {
            if let Some(v) = self.launch_value(key, requirements) {
                out.insert(key.to_string(), v);
            }
        }
        out
    }

    /// What pods can use on a node of this type.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// Available offerings whose zone, zone ID and capacity type the requirements allow.
    pub fn offerings_for<'a>(
        &'a self,
        requirements: &'a Requirements,
    ) -> impl Iterator<Item = &'a Offering> + 'a {
        let filter = OfferingFilter::new(requirements);
        self.offerings.iter().filter(move |o| filter.allows(o))
    }

    /// The cheapest available offering the requirements allow. Ties go to the
    /// first zone alphabetically so results are deterministic.
    pub fn cheapest_offering(&self, requirements: &Requirements) -> Option<&Offering> {
        OfferingFilter::new(requirements).cheapest(self)
    }
}

/// The zone, zone-ID and capacity-type requirements, looked up once and
/// applied to many instance types' offerings.
#[derive(Clone, Copy)]
pub struct OfferingFilter<'r> {
    zone: Option<&'r Requirement>,
    zone_id: Option<&'r Requirement>,
    capacity_type: Option<&'r Requirement>,
}

/// Whether a zone-ID requirement allows an offering's zone ID; one without an
/// ID is allowed (upstream's offerings leave the key undefined then, and
/// compatibility allows undefined well-known labels).
pub fn zone_id_allows(r: Option<&Requirement>, zone_id: Option<&str>) -> bool {
    match (r, zone_id) {
        (Some(r), Some(id)) => r.has(id),
        _ => true,
    }
}

impl<'r> OfferingFilter<'r> {
    pub fn new(requirements: &'r Requirements) -> Self {
        OfferingFilter {
            zone: requirements.get(kerf_api::labels::ZONE),
            zone_id: requirements.get(kerf_api::labels::ZONE_ID),
            capacity_type: requirements.get(kerf_api::labels::CAPACITY_TYPE),
        }
    }

    pub fn allows(&self, o: &Offering) -> bool {
        o.available
            && self.zone.is_none_or(|r| r.has(&o.zone))
            && zone_id_allows(self.zone_id, o.zone_id.as_deref())
            && self.capacity_type.is_none_or(|r| r.has(&o.capacity_type))
    }

    pub fn any(&self, it: &InstanceType) -> bool {
        it.offerings.iter().any(|o| self.allows(o))
    }

    pub fn cheapest<'t>(&self, it: &'t InstanceType) -> Option<&'t Offering> {
        let mut best: Option<&Offering> = None;
        for o in it.offerings.iter().filter(|o| self.allows(o)) {
            let better = best.is_none_or(|b| {
                o.price
                    .total_cmp(&b.price)
                    .then_with(|| o.zone.cmp(&b.zone))
                    .then_with(|| o.capacity_type.cmp(&b.capacity_type))
                    .is_lt()
            });
            if better {
                best = Some(o);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    //! A type lacking a GPU/accelerator/NVMe label has it as DoesNotExist.
    //! No upstream test names that for AWS labels; the operator table mirrors
    //! kubernetes-sigs/karpenter `pkg/controllers/provisioning/scheduling/
    //! suite_test.go` ("Scheduling Logic"): "should not schedule pods that
    //! have node selectors with In operator and undefined key", "should
    //! schedule pods that have node selectors with NotIn operator and
    //! undefined key", "should not schedule pods that have node selectors
    //! with Exists operator and undefined key" and "should schedule pods that
    //! with DoesNotExists operator and undefined key"; the types that do carry
    //! the label are aws `pkg/providers/instancetype/suite_test.go` "should
    //! support individual instance type labels".
    use super::*;
    use crate::requirements::Requirement;

    fn it(labels: &[(&str, &str)]) -> InstanceType {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        InstanceType::new(
            "x",
            labels,
            Resources::default(),
            Overhead::default(),
            Vec::new(),
        )
    }

    fn req(key: &str, op: &str, values: &[&str]) -> Requirements {
        let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        [Requirement::new(key, op, &values).expect("valid requirement")]
            .into_iter()
            .collect()
    }

    #[test]
    fn undefined_instance_label_is_does_not_exist() {
        use kerf_api::labels::{INSTANCE_GPU_NAME as GPU, INSTANCE_LOCAL_NVME as NVME};
        let plain = it(&[]);
        let g5 = it(&[(GPU, "a10g")]);
        let c5d = it(&[(NVME, "50")]);
        let m5d = it(&[(NVME, "600")]);
        let cases: [(&InstanceType, Requirements, bool); 10] = [
            (&plain, req(GPU, "In", &["a10g"]), false),
            (&plain, req(GPU, "Exists", &[]), false),
            (&plain, req(GPU, "NotIn", &["a10g"]), true),
            (&plain, req(GPU, "DoesNotExist", &[]), true),
            (&g5, req(GPU, "In", &["a10g"]), true),
            (&g5, req(GPU, "In", &["t4"]), false),
            (&plain, req(NVME, "Gt", &["300"]), false),
            (&c5d, req(NVME, "Gt", &["300"]), false),
            (&m5d, req(NVME, "Gt", &["300"]), true),
            (&plain, req(NVME, "Lt", &["300"]), false),
        ];
        for (i, (t, r, want)) in cases.iter().enumerate() {
            assert_eq!(
                t.requirements.compatible(r, true).is_ok(),
                *want,
                "case {i}: {r:?}"
            );
        }
    }

    #[test]
    fn names_outside_aws_scheme_and_unknown_bandwidth_are_does_not_exist() {
        use kerf_api::labels::{
            INSTANCE_CAPABILITY_FLEX as FLEX, INSTANCE_FAMILY as FAMILY,
            INSTANCE_NETWORK_BANDWIDTH as BANDWIDTH, WINDOWS_BUILD,
        };
        let custom = it(&[]);
        let m5 = it(&[(FAMILY, "m5"), (BANDWIDTH, "750"), (FLEX, "false")]);
        let cases: [(&InstanceType, Requirements, bool); 7] = [
            (&custom, req(FAMILY, "In", &["m5"]), false),
            (&custom, req(FAMILY, "NotIn", &["m5"]), true),
            (&m5, req(FAMILY, "In", &["m5"]), true),
            (&custom, req(BANDWIDTH, "Gt", &["500"]), false),
            (&m5, req(BANDWIDTH, "Gt", &["500"]), true),
            (&m5, req(FLEX, "In", &["true"]), false),
            (&m5, req(WINDOWS_BUILD, "Exists", &[]), false),
        ];
        for (i, (t, r, want)) in cases.iter().enumerate() {
            assert_eq!(
                t.requirements.compatible(r, true).is_ok(),
                *want,
                "case {i}"
            );
        }
    }

    /// Upstream `pkg/providers/instance/instance.go` `getTenancyType` and the
    /// kubelet's OS: a choice the type offers launches as the default when the
    /// claim allows it, else as the first value the claim allows.
    #[test]
    fn launch_labels_pick_the_default_of_each_choice_the_claim_allows() {
        use kerf_api::labels::{
            INSTANCE_TENANCY as TENANCY, NITRO_SANDBOX, OS, TENANCY_DEDICATED, TENANCY_DEFAULT,
        };
        let mut t = it(&[(NITRO_SANDBOX, "true")]);
        t.requirements.add(Requirement::in_values(
            TENANCY,
            [TENANCY_DEFAULT, TENANCY_DEDICATED].map(String::from),
        ));
        t.requirements.add(Requirement::in_values(
            OS,
            ["linux", "windows"].map(String::from),
        ));
        let cases: [(Requirements, &str, &str); 4] = [
            (Requirements::new(), "default", "linux"),
            (req(TENANCY, "In", &["dedicated"]), "dedicated", "linux"),
            (req(TENANCY, "NotIn", &["default"]), "dedicated", "linux"),
            (req(OS, "In", &["windows"]), "default", "windows"),
        ];
        for (r, tenancy, os) in cases {
            let labels = t.launch_labels(&r);
            assert_eq!(
                labels.get(TENANCY).map(String::as_str),
                Some(tenancy),
                "{r:?}"
            );
            assert_eq!(labels.get(OS).map(String::as_str), Some(os), "{r:?}");
            assert_eq!(labels.get(NITRO_SANDBOX).map(String::as_str), Some("true"));
            assert!(!labels.contains_key(kerf_api::labels::ZONE), "{labels:?}");
        }
        // A type without the choice gets no label for it.
        assert_eq!(
            it(&[]).launch_labels(&Requirements::new()).get(TENANCY),
            None
        );
    }

    #[test]
    fn a_type_without_enclave_support_facts_has_the_label_as_does_not_exist() {
        use kerf_api::labels::NITRO_SANDBOX;
        let unknown = it(&[]);
        let supported = it(&[(NITRO_SANDBOX, "true")]);
        assert!(
            unknown
                .requirements
                .compatible(&req(NITRO_SANDBOX, "In", &["true"]), true)
                .is_err()
        );
        assert!(
            supported
                .requirements
                .compatible(&req(NITRO_SANDBOX, "In", &["true"]), true)
                .is_ok()
        );
        assert!(
            unknown
                .requirements
                .compatible(&req(NITRO_SANDBOX, "DoesNotExist", &[]), true)
                .is_ok()
        );
    }
}
