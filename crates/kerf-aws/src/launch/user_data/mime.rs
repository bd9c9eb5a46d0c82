//! MIME multi-part archives, the container cloud-init and nodeadm read on
//! AL2, Ubuntu and AL2023: reading the archive a user wrote in `spec.userData`
//! into its parts, and writing the merged archive.
//!
//! Reading uses the `mailparse` crate rather than a hand-written splitter:
//! header names are case-insensitive, headers may be folded over several
//! lines, the `boundary=` parameter may or may not be quoted, and parts may
//! themselves be archives. `mailparse` handles all of that and still hands
//! back each part's raw text, so a user's part, its headers included, is
//! copied byte for byte. (`mail-parser` was the other candidate; its current
//! release needs a newer compiler than this workspace's.)
//!
//! Writing is a few fixed lines, so it is done here, in the layout Karpenter
//! writes: `MIME-Version`, `Content-Type` with the `//` boundary, the parts,
//! the closing delimiter, LF line endings throughout.

use std::fmt::Write;

use super::UserDataError;

/// A shell script part; cloud-init runs these in order.
pub(super) const SHELL_SCRIPT: &str = "text/x-shellscript; charset=\"us-ascii\"";
/// A nodeadm `NodeConfig` part (the `node.eks.aws` API group).
pub(super) const NODE_CONFIG: &str = "application/node.eks.aws";

/// Karpenter's boundary; kept so merged user data reads the same as theirs.
const BOUNDARY: &str = "//";

/// One part of an archive: its header block, the blank line, and its body,
/// exactly as written (the line break before the next delimiter belongs to
/// the delimiter, not to the part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Part {
    raw: String,
}

impl Part {
    /// A part with only a `Content-Type` header.
    pub(super) fn new(content_type: &str, body: &str) -> Part {
        Part {
            raw: format!("Content-Type: {content_type}\n\n{body}"),
        }
    }

    #[cfg(test)]
    pub(super) fn raw(&self) -> &str {
        &self.raw
    }
}

/// Whether user data is a MIME document rather than a bare script or
/// config: it opens with one of the two headers such a document starts
/// with (Karpenter's test, here regardless of case as header names are).
pub(super) fn is_mime(user_data: &str) -> bool {
    let head = user_data.trim_start();
    ["mime-version:", "content-type:"].iter().any(|prefix| {
        head.get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
    })
}

/// The parts of a multi-part document, in order. Anything else (not
/// multipart, no boundary, no parts, a last part that runs off the end) is
/// an error, as in Karpenter: a document the user meant as MIME but that
/// does not read as one would otherwise reach the node in pieces.
pub(super) fn parse(doc: &str) -> Result<Vec<Part>, UserDataError> {
    // Trailing blank lines after a last `--boundary` would read as one more,
    // empty, part.
    let doc = doc.trim();
    let mail = mailparse::parse_mail(doc.as_bytes())
        .map_err(|e| UserDataError::new(format!("unreadable MIME document: {e}")))?;
    if !mail.ctype.mimetype.starts_with("multipart/") {
        return Err(UserDataError::new(format!(
            "a MIME document must be multipart/*, not {:?}",
            mail.ctype.mimetype
        )));
    }
    let Some(boundary) = mail.ctype.params.get("boundary") else {
        return Err(UserDataError::new(
            "the multipart Content-Type has no boundary parameter",
        ));
    };
    // Like Go's reader (Karpenter's), accept a last part closed by `--b--`
    // or, at the very end, by a plain `--b`; a part cut off is refused.
    let delimiter = format!("--{boundary}");
    let close = format!("{delimiter}--");
    let closed = doc.lines().any(|l| l.trim_end() == close)
        || doc
            .lines()
            .last()
            .is_some_and(|l| l.trim_end() == delimiter);
    if !closed {
        return Err(UserDataError::new(format!(
            "the MIME document has no closing {close} line"
        )));
    }
    if mail.subparts.is_empty() {
        return Err(UserDataError::new(format!(
            "the MIME document has no parts delimited by --{boundary}"
        )));
    }
    mail.subparts
        .iter()
        .map(|p| {
            // Parts are slices of a &str cut at line breaks, so always UTF-8;
            // the error arm is for completeness, not expected.
            std::str::from_utf8(p.raw_bytes)
                .map(|raw| Part {
                    raw: raw.to_string(),
                })
                .map_err(|e| UserDataError::new(format!("a MIME part is not UTF-8: {e}")))
        })
        .collect()
}

/// The archive of these parts, in order.
pub(super) fn write(parts: &[Part]) -> String {
    let boundary = boundary_for(parts);
    let mut out =
        format!("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n\n");
    for part in parts {
        let _ = writeln!(out, "--{boundary}\n{}", part.raw);
    }
    let _ = writeln!(out, "--{boundary}--");
    out
}

/// Karpenter's `//`, unless a line of some part would read as a delimiter
/// of it (a user's part may hold anything, including `--//`); then the
/// first free `//kerf-N`. Deterministic, so equal inputs give equal user
/// data and launch templates are reused.
fn boundary_for(parts: &[Part]) -> String {
    let clashes = |b: &str| {
        let delimiter = format!("--{b}");
        parts
            .iter()
            .any(|p| p.raw.lines().any(|l| l.starts_with(&delimiter)))
    };
    let mut boundary = BOUNDARY.to_string();
    let mut n = 0;
    while clashes(&boundary) {
        boundary = format!("{BOUNDARY}kerf-{n}");
        n += 1;
    }
    boundary
}
