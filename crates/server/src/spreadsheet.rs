//! The one CSV writer of the project, for files people open in a
//! spreadsheet: the attendance report and the invitation list.
//!
//! Names in these files are typed by people at the sites, and a spreadsheet
//! runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return as a formula (CSV injection). Such a cell gets a leading
//! apostrophe, which keeps it text at the cost of one visible character in
//! rare names.
//!
//! Quoting is the `csv` crate's `QuoteStyle::Necessary` (a cell with `,`,
//! `"`, CR or LF is quoted, quotes doubled), with `;` made a character that
//! needs quotes too (see [`writer`]). `Necessary` rather than `Always`
//! keeps ordinary rows as they were (`endpoint,30,Hải Dương,…`), which
//! scripts and mail merges already read.

use std::borrow::Cow;

/// Without a byte-order mark Excel reads UTF-8 as the local code page and
/// mangles the diacritics.
const BOM: &str = "\u{feff}";

/// `header` and `rows` as CSV: UTF-8 with a byte-order mark, CRLF line
/// ends, every cell guarded against formulas and quoted where needed. The
/// column count is part of the type, so every row has the header's.
pub fn to_csv<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<String, csv::Error> {
    let mut out = writer(BOM.as_bytes().to_vec());
    write_row(&mut out, &header)?;
    for row in rows {
        write_row(&mut out, &row)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Only `&str` cells and ASCII quotes went in, so this never replaces
    // anything; it just spares an error path that cannot be taken.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Spreadsheets in locales whose list separator is `;` (much of Europe,
/// and Excel set up that way here) split a line on `;`: a cell
/// `Lê A;=1+1` would reach them as `Lê A` and a bare formula `=1+1`. The
/// `csv` crate quotes per writer, not per cell, but its `Necessary` style
/// quotes any cell holding the comment character, so naming `;` the
/// comment character (this writer never writes comments) quotes exactly
/// the cells that hold one, and leaves the other cells as they were.
fn writer(sink: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .comment(Some(b';'))
        .terminator(csv::Terminator::CRLF)
        .from_writer(sink)
}

fn write_row<S: AsRef<str>>(out: &mut csv::Writer<Vec<u8>>, cells: &[S]) -> Result<(), csv::Error> {
    let guarded: Vec<Cow<'_, str>> = cells.iter().map(|c| guard(c.as_ref())).collect();
    out.write_record(guarded.iter().map(|c| c.as_bytes()))
}

fn starts_a_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Every cell, not only the typed-in ones: the numbers and times in these
/// files never start with a sign, so the guard changes nothing there, and
/// a column added later cannot be left out. Each part after a `;` is
/// guarded as well: a reader that splits on `;` without regard to quotes
/// (the quotes open in the middle of its cell) still sees `'=1+1`, text.
fn guard(cell: &str) -> Cow<'_, str> {
    if !starts_a_formula(cell) && !cell.split(';').skip(1).any(starts_a_formula) {
        return Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + 2);
    for (i, part) in cell.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if starts_a_formula(part) {
            out.push('\'');
        }
        out.push_str(part);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_row(cells: [&str; 3]) -> String {
        let csv = to_csv(["a", "b", "c"], [cells.map(String::from)]).expect("csv");
        let body = csv.strip_prefix(BOM).expect("starts with the BOM");
        let row = body.strip_prefix("a,b,c\r\n").expect("the header first");
        row.strip_suffix("\r\n")
            .expect("CRLF at the end")
            .to_string()
    }

    /// Reads the CSV back with the crate's reader, as a spreadsheet that
    /// splits on `delimiter` and honours quotes would.
    fn read_back(csv: &str, delimiter: u8) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(csv.trim_start_matches(BOM).as_bytes())
            .records()
            .map(|r| r.expect("a record").iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn a_semicolon_formula_in_a_name_is_quoted_and_kept_text() {
        let row = one_row(["30", "Lê A;=1+1", "x"]);
        assert_eq!(row, "30,\"Lê A;'=1+1\",x");
        let csv = to_csv(
            ["a", "b", "c"],
            [["30", "Lê A;=1+1", "x"].map(String::from)],
        )
        .expect("csv");
        // Split on `;` the way such a spreadsheet does: no cell is a formula.
        for line in csv.trim_start_matches(BOM).lines() {
            for cell in line.split(';') {
                assert!(!starts_a_formula(cell), "{cell:?} in {line:?}");
            }
        }
        for record in read_back(&csv, b';') {
            for cell in record {
                assert!(!starts_a_formula(&cell), "{cell:?}");
            }
        }
        assert_eq!(read_back(&csv, b',')[1], ["30", "Lê A;'=1+1", "x"]);
        assert_eq!(one_row(["a;b", "c", "d"]), "\"a;b\",c,d");
    }

    #[test]
    fn a_leading_formula_character_gets_an_apostrophe() {
        assert_eq!(one_row(["=1+1", "+84 24", "-2"]), "'=1+1,'+84 24,'-2");
        assert_eq!(
            one_row(["@SUM(A1)", "\tx", "=HYPERLINK(\"http://x\")"]),
            "'@SUM(A1),'\tx,\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(one_row(["\r=1", "", "a=b"]), "\"'\r=1\",,a=b");
        assert_eq!(
            one_row(["1-2", "a@b.vn", "2026-11-28T08:00:00Z"]),
            "1-2,a@b.vn,2026-11-28T08:00:00Z"
        );
    }

    #[test]
    fn quotes_commas_and_line_breaks_are_quoted() {
        let tricky = "Sở \"Tài chính\", Hà Nội";
        assert_eq!(
            one_row([tricky, "a\nb", "c\r\nd"]),
            "\"Sở \"\"Tài chính\"\", Hà Nội\",\"a\nb\",\"c\r\nd\""
        );
        let csv = to_csv(
            ["a", "b", "c"],
            [[tricky, "a\nb", "c\r\nd"].map(String::from)],
        )
        .expect("csv");
        assert_eq!(read_back(&csv, b',')[1], [tricky, "a\nb", "c\r\nd"]);
    }

    #[test]
    fn diacritics_and_plain_cells_are_written_as_they_are() {
        let names = ["Thành phố Hồ Chí Minh", "Đắk Lắk", "Bà Rịa – Vũng Tàu"];
        assert_eq!(one_row(names), names.join(","));
        // Decomposed forms (a letter and its combining marks) stay as sent.
        let decomposed = "Ha\u{300} No\u{302}\u{323}i";
        assert_eq!(one_row([decomposed, "x", "y"]), format!("{decomposed},x,y"));
    }

    #[test]
    fn the_file_starts_with_the_bom_and_the_header() {
        let csv = to_csv(["role", "code"], Vec::<[String; 2]>::new()).expect("csv");
        assert_eq!(csv, "\u{feff}role,code\r\n");
    }
}
