//! `--catalog FILE`: another region's instance types and prices.

use kerf_sim::{SimulateOptions, simulate};

const CATALOG: &str = r#"region: eu-west-1
zones: [eu-west-1a, eu-west-1b]
instanceTypes:
  - name: m5.xlarge
    vcpu: 4
    memoryMiB: 16384
    arch: amd64
    category: m
    family: m5
    generation: 5
    size: xlarge
    maxENIs: 4
    ipv4PerENI: 15
    onDemand: 0.214
    spot: {eu-west-1b: 0.081}
"#;

const MANIFESTS: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
  provider: {instanceProfile: profile}
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: "2", memory: 4Gi}}}]
"#;

#[tokio::test]
async fn custom_catalogue_decides_types_zones_and_prices() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let manifests = dir.path().join("app.yaml");
    std::fs::write(&manifests, MANIFESTS).unwrap();
    let report = simulate(&SimulateOptions {
        paths: vec![manifests.clone()],
        catalog: Some(catalog),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(report.nodes.len(), 1);
    let n = &report.nodes[0];
    assert_eq!(
        (
            n.instance_type.as_str(),
            n.zone.as_str(),
            n.capacity_type.as_str()
        ),
        ("m5.xlarge", "eu-west-1b", "spot")
    );
    assert!((n.price_per_hour - 0.081).abs() < 1e-9);

    let err = simulate(&SimulateOptions {
        paths: vec![manifests],
        catalog: Some(dir.path().join("missing.yaml")),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    assert_eq!(err.exit_code(), 2);
}
