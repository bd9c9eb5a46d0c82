//! Tests of reading and writing MIME archives on their own.

use super::super::mime::{self, NODE_CONFIG, Part, SHELL_SCRIPT};
use super::read_mime;

const NODE_CONFIG_BODY: &str = "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: test-cluster\n  containerd:\n    config: |\n      [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      discard_unpacked_layers = false\n";
const SHELL_BODY: &str = "#!/bin/bash\necho \"I'm a shell script!\"\n";

fn valid_archive() -> String {
    format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n--//\nContent-Type: {NODE_CONFIG}\n\n{NODE_CONFIG_BODY}\n--//\nContent-Type: {SHELL_SCRIPT}\n\n{SHELL_BODY}\n--//--\n"
    )
}

/// Upstream: MIME Parser / "should successfully parse a valid MIME archive".
#[test]
fn a_valid_archive_reads_into_its_parts() {
    let parts = mime::parse(&valid_archive()).unwrap();
    assert_eq!(
        parts,
        vec![
            Part::new(NODE_CONFIG, NODE_CONFIG_BODY),
            Part::new(SHELL_SCRIPT, SHELL_BODY),
        ]
    );
}

/// Upstream: MIME Parser / "should successfully serialize a MIME archive":
/// the same two parts write exactly Karpenter's document.
#[test]
fn parts_write_karpenters_layout() {
    let parts = [
        Part::new(NODE_CONFIG, NODE_CONFIG_BODY),
        Part::new(SHELL_SCRIPT, SHELL_BODY),
    ];
    let written = mime::write(&parts);
    assert_eq!(written, valid_archive());
    assert_eq!(mime::parse(&written).unwrap(), parts, "round trip");
}

/// Upstream: MIME Parser / "should fail to parse MIME archive with a
/// malformed header".
#[test]
fn a_malformed_header_is_refused() {
    let bad = "MIME_VERSION = 1.0\nCONTENT_TYPE = MIME\n\n--//\nContent-Type: application/node.eks.aws\n\nkind: NodeConfig\n\n--//--\n";
    assert!(mime::parse(bad).is_err());
    // Nor is it taken for MIME in the first place: it is a bare document.
    assert!(!mime::is_mime(bad));
}

#[test]
fn mime_is_recognised_by_its_first_header_in_any_case() {
    assert!(mime::is_mime("\n  MIME-Version: 1.0\n"));
    assert!(mime::is_mime("content-type: multipart/mixed; boundary=x\n"));
    assert!(!mime::is_mime("#!/bin/bash\nMIME-Version: 1.0\n"));
    assert!(!mime::is_mime("Content"));
}

#[test]
fn folded_headers_and_an_unquoted_boundary_are_read() {
    let doc = "MIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary=abc\n\n--abc\nContent-Type: text/x-shellscript\n\necho one\n--abc\nContent-Type: text/x-shellscript\n\necho two\n--abc--\nepilogue\n";
    let parts = mime::parse(doc).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[1].raw(),
        "Content-Type: text/x-shellscript\n\necho two"
    );
}

/// A user's part holding a line that reads as a `//` delimiter must not cut
/// the merged archive: another boundary is chosen.
#[test]
fn a_part_holding_the_boundary_gets_another_boundary() {
    let tricky = "#!/bin/bash\ncat <<'EOF'\n--//\nEOF\n";
    let parts = [
        Part::new(SHELL_SCRIPT, tricky),
        Part::new(SHELL_SCRIPT, "echo last"),
    ];
    let written = mime::write(&parts);
    assert!(written.contains("boundary=\"//kerf-0\""));
    let read = read_mime(&written);
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].body, tricky);
    assert_eq!(read[1].body, "echo last");
}
