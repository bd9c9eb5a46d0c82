//! Size limits on the simulator's input, checked before the work they bound:
//! the file size before reading, YAML flow nesting before parsing, and pod
//! counts before expanding a workload.
//!
//! Flow nesting is checked by a linear pre-scan because the YAML scanner
//! under serde_yaml costs time quadratic in flow depth (it revisits every
//! open flow level on each token): 200 KB of `[[[[…` took 43 s to reach its
//! recursion limit. Block nesting has no such cost and is left to the parser.

/// Largest manifest file read, in bytes (a `kubectl get -o yaml` dump of a
/// large cluster fits; the API server's limit per object is 3 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Deepest nesting of flow collections (`[...]`, `{...}`) in a document.
/// Kubernetes objects nest about a dozen levels.
pub const MAX_FLOW_DEPTH: usize = 64;
/// Most pods one workload expands to (its replicas, parallelism).
pub const MAX_WORKLOAD_PODS: usize = 100_000;
/// Most pods in the whole input (workload pods plus Pod documents).
pub const MAX_PODS: usize = 100_000;

/// Where the pre-scan found nesting deeper than [`MAX_FLOW_DEPTH`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based document index within the file.
    pub document: usize,
    /// 1-based line and column of the bracket that went too deep.
    pub line: usize,
    pub column: usize,
}

impl TooDeep {
    pub fn message(&self) -> String {
        format!(
            "malformed YAML: flow collections nested more than {MAX_FLOW_DEPTH} deep at line {} column {}; kerf simulate reads at most {MAX_FLOW_DEPTH} levels",
            self.line, self.column
        )
    }
}

/// Checks the flow nesting depth of every document in `text`, in one pass.
/// It tracks just enough YAML to tell a bracket that opens a collection from
/// one inside a scalar: quotes, comments, block scalars and document markers.
pub fn check_flow_depth(text: &str) -> Result<(), TooDeep> {
    let mut document = 1;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // Indentation of the line that opened a block scalar (`|`, `>`).
    let mut block_scalar: Option<usize> = None;
    let mut seen_content = false;
    for (line_index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let mut chars: &str = line;
        if quote.is_none() && depth == 0 && (line.starts_with("---") || line.starts_with("...")) {
            let marker_ends = line.len() == 3 || line[3..].starts_with([' ', '\t']);
            if marker_ends {
                if seen_content || line.starts_with("...") {
                    document += 1;
                    seen_content = false;
                }
                chars = &line[3..];
            }
        }
        let offset = line.len() - chars.len();
        let mut node_start = true;
        let mut prev: Option<char> = None;
        let mut iter = chars.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            let next = iter.peek().map(|(_, n)| *n);
            let spaced = |n: Option<char>| n.is_none_or(|n| n == ' ' || n == '\t');
            if let Some(q) = quote {
                match c {
                    '\\' if q == '"' => {
                        iter.next();
                    }
                    '\'' if q == '\'' && next == Some('\'') => {
                        iter.next();
                    }
                    _ if c == q => {
                        quote = None;
                        node_start = false;
                    }
                    _ => {}
                }
                prev = Some(c);
                continue;
            }
            if c == '#' && prev.is_none_or(char::is_whitespace) {
                break; // a comment, not content: `---` after it opens no new document
            }
            if !c.is_whitespace() {
                seen_content = true;
            }
            match c {
                ' ' | '\t' => {}
                '[' | '{' if node_start || depth > 0 => {
                    depth += 1;
                    node_start = true;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(TooDeep {
                            document,
                            line: line_index + 1,
                            column: offset + i + 1,
                        });
                    }
                }
                ']' | '}' if depth > 0 => {
                    depth -= 1;
                    node_start = false;
                }
                ',' if depth > 0 => node_start = true,
                ':' if spaced(next) || depth > 0 => node_start = true,
                '"' | '\'' if node_start => quote = Some(c),
                '|' | '>' if node_start && depth == 0 => {
                    block_scalar = Some(indent);
                    break;
                }
                '-' | '?' if node_start && spaced(next) => {}
                '&' | '!' if node_start => {
                    // An anchor or tag before the node: skip to its end.
                    while iter.peek().is_some_and(|(_, n)| !n.is_whitespace()) {
                        iter.next();
                    }
                }
                _ => node_start = false,
            }
            prev = Some(c);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("x: {}1{}\n", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_limit_passes() {
        assert_eq!(check_flow_depth(&nested(MAX_FLOW_DEPTH)), Ok(()));
    }

    #[test]
    fn deeper_nesting_is_found_at_its_bracket() {
        let text = format!("a: 1\n---\nb: 2\n{}", nested(MAX_FLOW_DEPTH + 1));
        assert_eq!(
            check_flow_depth(&text),
            Err(TooDeep {
                document: 2,
                line: 4,
                column: "x: ".len() + MAX_FLOW_DEPTH + 1
            })
        );
    }

    #[test]
    fn brackets_in_scalars_comments_and_block_scalars_do_not_count() {
        let deep = "[".repeat(MAX_FLOW_DEPTH + 1);
        let text = format!(
            "a: \"{deep}\"\nb: '{deep}'\nc: x{deep}\n# {deep}\nd: |\n  {deep}\n  {deep}\ne: {{f: \"]]\", g: 'it''s [['}}\n"
        );
        assert_eq!(check_flow_depth(&text), Ok(()));
    }

    #[test]
    fn a_leading_comment_and_marker_are_still_document_1() {
        let text = format!("# licence header\n---\n{}", nested(MAX_FLOW_DEPTH + 1));
        assert_eq!(check_flow_depth(&text).map_err(|e| e.document), Err(1));
    }

    #[test]
    fn closed_collections_do_not_add_up() {
        let text = format!(
            "items: [{}]\n",
            vec![nested(40).trim_start_matches("x: ").trim_end().to_string(); 100].join(", ")
        );
        assert_eq!(check_flow_depth(&text), Ok(()));
    }
}
