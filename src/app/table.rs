//! A small table type shared by the studies: the same rows printed as aligned plain text (for
//! the terminal) and as a Markdown table (for `docs/results.md`).

/// A table: a header and rows of already-formatted cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows; each has `header.len()` cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (k, c) in r.iter().enumerate() {
                if k < w.len() {
                    w[k] = w[k].max(c.chars().count());
                }
            }
        }
        w
    }

    /// Right-aligned plain text, one line per row.
    pub fn to_text(&self) -> String {
        let w = self.widths();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&w)
                .map(|(c, &n)| format!("{c:>n$}"))
                .collect::<Vec<_>>()
                .join("  ")
                + "\n"
        };
        let mut out = line(&self.header);
        for r in &self.rows {
            out += &line(r);
        }
        out
    }

    /// A GitHub-flavoured Markdown table (a `|` inside a cell is escaped).
    pub fn to_markdown(&self) -> String {
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = row(&self.header);
        out += &row(&vec!["---".to_string(); self.header.len()]);
        for r in &self.rows {
            out += &row(r);
        }
        out
    }
}

/// `x` in scientific notation with 3 significant digits (`NaN` and `inf` spelled out).
pub fn sci(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_markdown_agree_on_cells() {
        let mut t = Table::new(["a", "bb"]);
        t.push(vec!["1".into(), "2.5".into()]);
        assert_eq!(t.to_text(), "a   bb\n1  2.5\n");
        assert_eq!(t.to_markdown(), "| a | bb |\n| --- | --- |\n| 1 | 2.5 |\n");
        assert_eq!(sci(0.000123456), "1.235e-4");
        let mut u = Table::new(["|x|"]);
        u.push(vec!["1".into()]);
        assert_eq!(u.to_markdown(), "| \\|x\\| |\n| --- |\n| 1 |\n");
        assert_eq!(sci(f64::NAN), "NaN");
    }
}
