//! Windows user data, against upstream's `bootstrap/windows.go` and the
//! Windows cases of `pkg/providers/launchtemplate/suite_test.go`.

use super::*;

fn windows(custom: Option<&str>) -> String {
    user_data(AmiFamily::Windows2022, &cluster(), &node(), custom).expect("windows user data")
}

#[test]
fn windows_runs_the_eks_bootstrap_script_in_one_powershell_block() {
    let ud = windows(None);
    assert!(ud.starts_with("<powershell>\n"), "{ud}");
    assert!(ud.ends_with("\n</powershell>"), "{ud}");
    let lines: Vec<&str> = ud.lines().collect();
    assert_eq!(
        lines[1],
        r#"[string]$EKSBootstrapScriptFile = "$env:ProgramFiles\Amazon\EKS\Start-EKSBootstrap.ps1""#
    );
    assert_eq!(
        lines[2],
        "& $EKSBootstrapScriptFile -EKSClusterName 'demo' -APIServerEndpoint 'https://api.demo.example' \
         -Base64ClusterCA 'Q0E=' -KubeletExtraArgs '--node-labels=\"karpenter.sh/capacity-type=spot,\
         karpenter.sh/nodepool=default\" --register-with-taints=\"dedicated=gpu:NoSchedule\" --max-pods=29' \
         -DNSClusterIP '10.100.0.10'"
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn windows_user_powershell_runs_first_inside_the_block() {
    let ud = windows(Some("Write-Host 'hello'\r\n"));
    let lines: Vec<&str> = ud.lines().collect();
    assert_eq!(lines[0], "<powershell>");
    assert_eq!(lines[1], "Write-Host 'hello'");
    assert!(lines[2].starts_with("[string]$EKSBootstrapScriptFile"));
    assert!(lines[3].starts_with("& $EKSBootstrapScriptFile"));
    assert_eq!(ud.matches("<powershell>").count(), 1);
}

#[test]
fn windows_quotes_single_quotes_the_powershell_way() {
    let mut c = cluster();
    c.name = "it's".into();
    let ud = user_data(AmiFamily::Windows2019, &c, &NodeBootstrap::default(), None).unwrap();
    assert!(ud.contains("-EKSClusterName 'it''s'"), "{ud}");
    assert!(
        !ud.contains("-KubeletExtraArgs"),
        "no flags, no argument: {ud}"
    );
}
