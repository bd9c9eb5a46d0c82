//! A node's ephemeral storage, sized as Karpenter's AWS provider sizes it
//! (`instancetype.ephemeralStorage`): with `instanceStorePolicy: RAID0` a type
//! with instance-store disks uses their total; otherwise the root volume: the
//! mapping marked `rootVolume`, else (Custom) the last mapping, else the
//! mapping of the family's own ephemeral device, else the family's default
//! volume (20Gi; 50Gi on Windows). A size the class leaves out is the default.

use kerf_api::v1::{EC2NodeClassSpec, InstanceStorePolicy};

use super::SpecError;
use crate::discovery::images::AmiFamily;

const GIB: i64 = 1 << 30;
/// EC2 reports instance-store sizes in (decimal) GB.
const GB: i64 = 1_000_000_000;
/// Karpenter's `DefaultEBS` volume size.
const DEFAULT_VOLUME_BYTES: i64 = 20 * GIB;

/// Where the kubelet's ephemeral storage lives on a node of one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeStorage {
    /// Bytes of the root (or ephemeral) EBS volume.
    pub root_volume_bytes: i64,
    /// Instance-store disks are striped into one volume for ephemeral storage.
    pub raid0: bool,
}

impl NodeStorage {
    pub fn from_spec(spec: &EC2NodeClassSpec, family: AmiFamily) -> Result<Self, SpecError> {
        let mappings = &spec.block_device_mappings;
        let size = |i: usize| -> Result<Option<i64>, SpecError> {
            let Some(q) = mappings[i]
                .ebs
                .as_ref()
                .and_then(|e| e.volume_size.as_ref())
            else {
                return Ok(None);
            };
            let milli = kerf_api::quantity::parse_milli(&q.0).map_err(|e| SpecError {
                field: "spec.blockDeviceMappings[].ebs.volumeSize",
                message: format!("{:?}: {e}", q.0),
            })?;
            Ok(Some(milli / 1000))
        };
        let chosen = if let Some(i) = mappings.iter().position(|m| m.root_volume) {
            size(i)?
        } else if family == AmiFamily::Custom && !mappings.is_empty() {
            size(mappings.len() - 1)?
        } else if let Some(i) = mappings
            .iter()
            .position(|m| m.device_name.as_deref() == Some(ephemeral_device(family)))
        {
            size(i)?
        } else {
            None
        };
        Ok(NodeStorage {
            root_volume_bytes: chosen.unwrap_or_else(|| default_volume_bytes(family)),
            raid0: spec.instance_store_policy == Some(InstanceStorePolicy::Raid0),
        })
    }

    /// Ephemeral storage of a type with `instance_store_gb` of instance-store
    /// disks (EC2's TotalSizeInGB, the `instance-local-nvme` label).
    pub fn ephemeral_bytes(&self, instance_store_gb: Option<i64>) -> i64 {
        match instance_store_gb {
            Some(gb) if self.raid0 && gb > 0 => gb.saturating_mul(GB),
            _ => self.root_volume_bytes,
        }
    }
}

/// The device the family's images keep the kubelet's data on.
pub fn ephemeral_device(family: AmiFamily) -> &'static str {
    match family {
        AmiFamily::Bottlerocket => "/dev/xvdb",
        AmiFamily::Windows2019 | AmiFamily::Windows2022 | AmiFamily::Windows2025 => "/dev/sda1",
        _ => "/dev/xvda",
    }
}

/// The size of that device when the class maps none.
pub fn default_volume_bytes(family: AmiFamily) -> i64 {
    match family.windows() {
        Some(_) => 50 * GIB,
        None => DEFAULT_VOLUME_BYTES,
    }
}

#[cfg(test)]
mod tests {
    //! Cases of upstream `pkg/providers/instancetype/suite_test.go`
    //! ("Ephemeral Storage": root volume, device name, Custom's last mapping,
    //! RAID0 instance store).
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use kerf_api::v1::{BlockDevice, BlockDeviceMapping};

    use super::*;

    fn mapping(device: &str, size: Option<&str>, root: bool) -> BlockDeviceMapping {
        BlockDeviceMapping {
            device_name: Some(device.into()),
            ebs: Some(BlockDevice {
                volume_size: size.map(|s| Quantity(s.into())),
                ..Default::default()
            }),
            root_volume: root,
        }
    }

    fn storage(family: AmiFamily, mappings: Vec<BlockDeviceMapping>, raid0: bool) -> NodeStorage {
        let spec = EC2NodeClassSpec {
            block_device_mappings: mappings,
            instance_store_policy: raid0.then_some(InstanceStorePolicy::Raid0),
            ..Default::default()
        };
        NodeStorage::from_spec(&spec, family).expect("valid spec")
    }

    #[test]
    fn the_root_volume_sizes_ephemeral_storage() {
        let al2023 = AmiFamily::Al2023;
        let cases: [(NodeStorage, i64); 7] = [
            (storage(al2023, vec![], false), 20 * GIB),
            (storage(AmiFamily::Windows2022, vec![], false), 50 * GIB),
            (
                storage(
                    al2023,
                    vec![mapping("/dev/xvda", Some("100Gi"), false)],
                    false,
                ),
                100 * GIB,
            ),
            (
                storage(
                    al2023,
                    vec![
                        mapping("/dev/xvda", Some("100Gi"), false),
                        mapping("/dev/xvdc", Some("200Gi"), true),
                    ],
                    false,
                ),
                200 * GIB,
            ),
            (
                storage(
                    al2023,
                    vec![mapping("/dev/xvdc", Some("200Gi"), false)],
                    false,
                ),
                20 * GIB,
            ),
            (
                storage(
                    AmiFamily::Bottlerocket,
                    vec![mapping("/dev/xvdb", Some("60Gi"), false)],
                    false,
                ),
                60 * GIB,
            ),
            (
                storage(
                    AmiFamily::Custom,
                    vec![
                        mapping("/dev/xvda", Some("30Gi"), false),
                        mapping("/dev/xvdb", Some("40Gi"), false),
                    ],
                    false,
                ),
                40 * GIB,
            ),
        ];
        for (i, (s, want)) in cases.iter().enumerate() {
            assert_eq!(s.ephemeral_bytes(None), *want, "case {i}");
        }
    }

    #[test]
    fn raid0_uses_the_instance_store_where_the_type_has_one() {
        let s = storage(AmiFamily::Al2023, vec![], true);
        assert_eq!(s.ephemeral_bytes(Some(474)), 474 * GB);
        assert_eq!(
            s.ephemeral_bytes(None),
            20 * GIB,
            "no instance store: the root volume"
        );
        let off = storage(AmiFamily::Al2023, vec![], false);
        assert_eq!(off.ephemeral_bytes(Some(474)), 20 * GIB);
    }

    #[test]
    fn a_bad_volume_size_names_the_field() {
        let spec = EC2NodeClassSpec {
            block_device_mappings: vec![mapping("/dev/xvda", Some("lots"), true)],
            ..Default::default()
        };
        let e = NodeStorage::from_spec(&spec, AmiFamily::Al2023).unwrap_err();
        assert_eq!(e.field, "spec.blockDeviceMappings[].ebs.volumeSize");
    }
}
