//! Column-aligned tables like docker's: Go's tabwriter as docker's CLI sets
//! it up (cells at least 10 wide, padded with three spaces past the widest
//! cell of their column).

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = headers.join("\t");
    text.push('\n');
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    align(&text)
}

/// Aligns tab-separated cells as Go's tabwriter does: a cell ended by a tab
/// belongs to a column, and a column's width is set by the run of adjacent
/// lines that have that column; the text after a line's last tab is not
/// padded.
pub fn align(text: &str) -> String {
    let trailing_newline = text.ends_with('\n');
    let lines: Vec<Vec<&str>> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|line| line.split('\t').collect())
        .collect();
    let columns = lines.iter().map(|cells| cells.len() - 1).max().unwrap_or(0);
    // widths[line][column]: the padded width of that cell.
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|cells| vec![0; cells.len() - 1]).collect();
    for column in 0..columns {
        let mut start = 0;
        while start < lines.len() {
            if lines[start].len() - 1 <= column {
                start += 1;
                continue;
            }
            let mut end = start;
            let mut width = MIN_WIDTH;
            while end < lines.len() && lines[end].len() - 1 > column {
                width = width.max(lines[end][column].chars().count() + PADDING);
                end += 1;
            }
            for line_widths in &mut widths[start..end] {
                line_widths[column] = width;
            }
            start = end;
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    for (i, cells) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (column, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths[i].get(column) {
                out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
        }
    }
    if trailing_newline {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_with_three_spaces() {
        let text = super::render(
            &["NAME", "IMAGE"],
            &[vec!["hello-web-1".into(), "busybox".into()]],
        );
        assert_eq!(text, "NAME          IMAGE\nhello-web-1   busybox\n");
    }

    #[test]
    fn narrow_columns_are_ten_wide_as_dockers() {
        let text = super::render(
            &["DRIVER", "VOLUME NAME"],
            &[vec!["local".into(), "data".into()]],
        );
        assert_eq!(text, "DRIVER    VOLUME NAME\nlocal     data\n");
    }

    #[test]
    fn a_line_without_the_column_ends_its_block() {
        let text = super::align("a\tb\nlonger-than-ten\tc\nplain\nx\ty\n");
        assert_eq!(
            text,
            "a                 b\nlonger-than-ten   c\nplain\nx         y\n"
        );
    }
}
