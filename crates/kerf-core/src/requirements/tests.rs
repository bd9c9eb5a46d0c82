//! Unit tests of the requirements algebra.

use super::*;

fn r(key: &str, op: &str, values: &[&str]) -> Requirement {
    let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    Requirement::new(key, op, &values).expect("valid requirement")
}

#[test]
fn intersection_table() {
    let cases = [
        (
            r("k", "In", &["a", "b"]),
            r("k", "In", &["b", "c"]),
            vec!["b"],
            false,
        ),
        (
            r("k", "In", &["a", "b"]),
            r("k", "NotIn", &["b"]),
            vec!["a"],
            false,
        ),
        (
            r("k", "NotIn", &["a"]),
            r("k", "NotIn", &["b"]),
            vec!["a", "b"],
            true,
        ),
        (
            r("k", "Exists", &[]),
            r("k", "In", &["x"]),
            vec!["x"],
            false,
        ),
        (
            r("k", "DoesNotExist", &[]),
            r("k", "In", &["x"]),
            vec![],
            false,
        ),
        (
            r("k", "Gt", &["2"]),
            r("k", "In", &["1", "3", "x"]),
            vec!["3"],
            false,
        ),
    ];
    for (a, b, want, complement) in cases {
        let got = a.intersection(&b);
        assert_eq!(got.complement, complement, "{a} ∩ {b}");
        assert_eq!(
            got.values.iter().map(String::as_str).collect::<Vec<_>>(),
            want,
            "{a} ∩ {b}"
        );
    }
}

#[test]
fn overlaps_agrees_with_intersection() {
    let all = [
        r("k", "In", &["1", "2", "a"]),
        r("k", "In", &["3"]),
        r("k", "NotIn", &["1"]),
        r("k", "NotIn", &["1", "2", "3", "a"]),
        r("k", "Exists", &[]),
        r("k", "DoesNotExist", &[]),
        r("k", "Gt", &["1"]),
        r("k", "Lt", &["2"]),
        r("k", "Lt", &["1"]),
    ];
    for a in &all {
        for b in &all {
            assert_eq!(a.overlaps(b), !a.intersection(b).is_empty(), "{a} vs {b}");
        }
    }
}

#[test]
fn bounds() {
    let gt = r("k", "Gt", &["2"]);
    assert!(gt.has("3") && !gt.has("2") && !gt.has("abc"));
    let both = gt.intersection(&r("k", "Lt", &["3"]));
    assert!(both.is_empty(), "2 < n < 3 has no integer");
    assert!(!gt.allows_absent());
    assert!(r("k", "NotIn", &["a"]).allows_absent());
    assert!(Requirement::new("k", "Gt", &["x".into()]).is_err());
}

#[test]
fn inclusive_bounds_at_the_ends_of_the_range_saturate() {
    // Found by fuzzing (fuzz/corpus/requirements): `Gte i64::MIN` overflowed.
    let min = i64::MIN.to_string();
    let max = i64::MAX.to_string();
    let gte = r("k", "Gte", &[&min]);
    assert!(gte.has("0") && gte.has(&(i64::MIN + 1).to_string()) && !gte.has("x"));
    let lte = r("k", "Lte", &[&max]);
    assert!(lte.has("0") && lte.has(&(i64::MAX - 1).to_string()) && !lte.has("x"));
    assert!(r("k", "Gte", &["5"]).has("5") && !r("k", "Gte", &["5"]).has("4"));
    assert!(r("k", "Lte", &["5"]).has("5") && !r("k", "Lte", &["5"]).has("6"));
}

#[test]
fn unknown_operator_is_an_error() {
    let err = Requirement::new("k", "Gte2", &[]).expect_err("unknown operator");
    assert!(err.message.contains("Gte2"));
}

#[test]
fn beta_keys_are_normalised() {
    assert_eq!(
        r("failure-domain.beta.kubernetes.io/zone", "In", &["a"]).key,
        "topology.kubernetes.io/zone"
    );
}

#[test]
fn compatibility() {
    let pool: Requirements = [
        r("team", "In", &["a"]),
        r("topology.kubernetes.io/zone", "In", &["z1", "z2"]),
    ]
    .into_iter()
    .collect();
    let pod: Requirements = [r("topology.kubernetes.io/zone", "In", &["z2"])]
        .into_iter()
        .collect();
    assert!(pool.compatible(&pod, true).is_ok());
    let custom: Requirements = [r("other", "In", &["x"])].into_iter().collect();
    assert!(
        pool.compatible(&custom, true).is_err(),
        "undefined custom label"
    );
    let excluded: Requirements = [r("other", "NotIn", &["x"])].into_iter().collect();
    assert!(pool.compatible(&excluded, true).is_ok());
    let wrong_zone: Requirements = [r("topology.kubernetes.io/zone", "In", &["z3"])]
        .into_iter()
        .collect();
    let e = pool
        .compatible(&wrong_zone, true)
        .expect_err("zone conflict");
    assert_eq!(e.key, "topology.kubernetes.io/zone");
    let undefined_wk: Requirements = [r("kubernetes.io/arch", "In", &["arm64"])]
        .into_iter()
        .collect();
    assert!(pool.compatible(&undefined_wk, true).is_ok());
    assert!(pool.compatible(&undefined_wk, false).is_err());
}

#[test]
fn label_matching() {
    let labels: BTreeMap<String, String> =
        [("a".to_string(), "1".to_string())].into_iter().collect();
    let ok: Requirements = [r("a", "In", &["1"]), r("b", "DoesNotExist", &[])]
        .into_iter()
        .collect();
    assert!(ok.matches_labels(&labels).is_ok());
    let missing: Requirements = [r("b", "Exists", &[])].into_iter().collect();
    assert!(missing.matches_labels(&labels).is_err());
}

#[test]
fn contradictions_allow_nothing_not_absence() {
    let none = r("team", "In", &["blue"]).intersection(&r("team", "DoesNotExist", &[]));
    assert!(none.is_unsatisfiable() && !none.allows_absent() && !none.has("blue"));
    let none = r("team", "In", &["red"]).intersection(&r("team", "In", &["blue"]));
    assert!(none.is_unsatisfiable());
    assert_eq!(none.to_string(), "team In []");
    let absent = r("team", "DoesNotExist", &[]).intersection(&r("team", "NotIn", &["a"]));
    assert!(absent.allows_absent() && !absent.is_unsatisfiable());
    let pool: Requirements = Requirements::new();
    let pod: Requirements = [r("team", "In", &["blue"]), r("team", "DoesNotExist", &[])]
        .into_iter()
        .collect();
    assert!(
        pool.compatible(&pod, true).is_err(),
        "a pool without the label cannot satisfy In [] "
    );
    let labels = BTreeMap::new();
    assert!(pod.matches_labels(&labels).is_err());
}

#[test]
fn exists_survives_intersection_with_not_in() {
    let both = r("team", "Exists", &[]).intersection(&r("team", "NotIn", &["blue"]));
    assert!(!both.allows_absent() && both.has("red") && !both.has("blue"));
    assert_eq!(both.to_string(), "team Exists, NotIn [blue]");
    let either = r("team", "NotIn", &["blue"]).intersection(&r("team", "NotIn", &["red"]));
    assert!(either.allows_absent());
    let pod: Requirements = [r("team", "Exists", &[]), r("team", "NotIn", &["blue"])]
        .into_iter()
        .collect();
    assert!(pod.matches_labels(&BTreeMap::new()).is_err());
    assert!(Requirements::new().compatible(&pod, true).is_err());
}

#[test]
fn does_not_exist_with_bounds_allows_nothing() {
    let both = r("k", "DoesNotExist", &[]).intersection(&r("k", "Gt", &["2"]));
    assert!(both.is_unsatisfiable());
}
