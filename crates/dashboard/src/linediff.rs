//! A line diff of two texts (the longest common subsequence of their lines),
//! for the project page's preview of a Compose edit: small files, so the
//! quadratic table is cheap; beyond [`MAX_LINES`] a side the texts are shown
//! as wholly removed and added rather than compared.

/// Most lines a side compared line by line (a 2,000-line Compose file
/// makes a 4-million-cell table of `u32`, 16 MB).
pub const MAX_LINES: usize = 2000;

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Same(String),
    Removed(String),
    Added(String),
}

/// `before` → `after`, line by line, in order.
pub fn diff(before: &str, after: &str) -> Vec<Line> {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    if old.len() > MAX_LINES || new.len() > MAX_LINES {
        return old
            .iter()
            .map(|l| Line::Removed(l.to_string()))
            .chain(new.iter().map(|l| Line::Added(l.to_string())))
            .collect();
    }
    // common[i][j]: the longest common subsequence of old[i..] and new[j..].
    let width = new.len() + 1;
    let mut common = vec![0u32; (old.len() + 1) * width];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i * width + j] = if old[i] == new[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old.len().max(new.len()));
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            out.push(Line::Same(old[i].to_string()));
            i += 1;
            j += 1;
        } else if common[(i + 1) * width + j] >= common[i * width + j + 1] {
            out.push(Line::Removed(old[i].to_string()));
            i += 1;
        } else {
            out.push(Line::Added(new[j].to_string()));
            j += 1;
        }
    }
    out.extend(old[i..].iter().map(|l| Line::Removed(l.to_string())));
    out.extend(new[j..].iter().map(|l| Line::Added(l.to_string())));
    out
}

/// Whether the two texts differ at all.
pub fn changed(lines: &[Line]) -> bool {
    lines.iter().any(|l| !matches!(l, Line::Same(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_removed_then_added_between_kept_lines() {
        let d = diff("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(
            d,
            vec![
                Line::Same("a".into()),
                Line::Removed("b".into()),
                Line::Added("B".into()),
                Line::Same("c".into()),
                Line::Added("d".into()),
            ]
        );
        assert!(changed(&d));
        assert!(!changed(&diff("x\ny\n", "x\ny\n")));
    }

    #[test]
    fn texts_beyond_the_limit_are_replaced_whole() {
        let big = "line\n".repeat(MAX_LINES + 1);
        let d = diff(&big, "line\n");
        assert_eq!(d.len(), MAX_LINES + 2);
        assert_eq!(d.last(), Some(&Line::Added("line".into())));
    }
}
