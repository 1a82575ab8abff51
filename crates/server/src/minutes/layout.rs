//! A small page layout on printpdf's drawing operations: lines of text that
//! wrap, tables whose rows break across pages with their header repeated,
//! and a footer with the page count. printpdf without its HTML layout
//! engine places text where it is told, so measuring and breaking lines is
//! done here, with the fonts' own advance widths.
//!
//! The fonts are subset to the characters the document uses before they
//! are embedded (allsorts, the font library printpdf itself is built on):
//! the two faces whole would add 1.4 MB to every PDF, the subsets a few
//! tens of kB.

use super::MinutesError;
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// DejaVu Sans covers Vietnamese (Latin Extended Additional), and its
/// licence lets it be embedded: `assets/fonts/LICENSE`.
const REGULAR_TTF: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 portrait, in points.
pub(super) const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
pub(super) const MARGIN: f32 = 40.0;
/// Where the body stops; the footer goes below.
const BOTTOM: f32 = 52.0;
const TOP: f32 = PAGE_H - MARGIN;
/// The width text may take.
pub(super) const BODY_W: f32 = PAGE_W - 2.0 * MARGIN;

const BLACK: (f32, f32, f32) = (0.0, 0.0, 0.0);
const GREY: (f32, f32, f32) = (0.45, 0.45, 0.45);
const RULE: (f32, f32, f32) = (0.75, 0.75, 0.75);
const SHADE: (f32, f32, f32) = (0.91, 0.91, 0.91);

struct Faces {
    regular: ParsedFont,
    bold: ParsedFont,
}

/// The faces are parsed once: a quarter of a second's work on each use.
fn faces() -> Result<&'static Faces, MinutesError> {
    static FACES: OnceLock<Option<Faces>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            Some(Faces {
                regular: ParsedFont::from_bytes(REGULAR_TTF, 0, &mut Vec::new())?,
                bold: ParsedFont::from_bytes(BOLD_TTF, 0, &mut Vec::new())?,
            })
        })
        .as_ref()
        .ok_or_else(|| MinutesError::Pdf("the embedded font could not be read".into()))
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// A table's column: its title, its width in points, and whether its
/// cells (figures) sit right.
pub(super) struct Column {
    pub title: &'static str,
    pub width: f32,
    pub right: bool,
}

/// The document being laid out.
pub(super) struct Doc {
    faces: &'static Faces,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The baseline of the next line, from the bottom of the page.
    y: f32,
    used: [BTreeSet<char>; 2],
}

impl Doc {
    pub(super) fn new() -> Result<Doc, MinutesError> {
        Ok(Doc {
            faces: faces()?,
            pages: Vec::new(),
            ops: Vec::new(),
            y: TOP,
            used: [BTreeSet::new(), BTreeSet::new()],
        })
    }

    fn face(&self, weight: Weight) -> &ParsedFont {
        match weight {
            Weight::Regular => &self.faces.regular,
            Weight::Bold => &self.faces.bold,
        }
    }

    /// The width of `s` set at `size` points.
    pub(super) fn width(&self, s: &str, size: f32, weight: Weight) -> f32 {
        let face = self.face(weight);
        let units: u32 = s
            .chars()
            .map(|c| {
                let gid = face.lookup_glyph_index(u32::from(c)).unwrap_or(0);
                u32::from(face.get_glyph_width(gid).unwrap_or(0))
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em.max(1))
    }

    /// `s` broken into lines no wider than `max`: at spaces where it can,
    /// inside a word too long for a line where it must. Line breaks and
    /// runs of spaces in typed-in text count as one space.
    pub(super) fn wrap(&self, s: &str, size: f32, weight: Weight, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in s.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size, weight) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                line.push(c);
                if self.width(&line, size, weight) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn colour(&mut self, (r, g, b): (f32, f32, f32)) {
        let col = Color::Rgb(Rgb {
            r,
            g,
            b,
            icc_profile: None,
        });
        self.ops.push(Op::SetFillColor { col });
    }

    /// One run of text with its baseline starting at `(x, y)`.
    fn text_at(&mut self, x: f32, y: f32, size: f32, weight: Weight, s: &str) {
        if s.is_empty() {
            return;
        }
        let index = match weight {
            Weight::Regular => 0,
            Weight::Bold => 1,
        };
        self.used[index].extend(s.chars());
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(font_id(weight)),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(s.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    fn rule(&mut self, x: f32, y: f32, width: f32) {
        let col = Color::Rgb(Rgb {
            r: RULE.0,
            g: RULE.1,
            b: RULE.2,
            icc_profile: None,
        });
        let point = |x: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.extend([
            Op::SetOutlineColor { col },
            Op::SetOutlineThickness { pt: Pt(0.5) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(x), point(x + width)],
                    is_closed: false,
                },
            },
        ]);
    }

    fn shade(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.colour(SHADE);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.ops));
        self.y = TOP;
    }

    /// Starts a new page unless `height` still fits on this one.
    fn room_for(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    /// Vertical space.
    pub(super) fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    /// A wrapped paragraph, its lines indented by `indent`.
    pub(super) fn paragraph(&mut self, s: &str, size: f32, weight: Weight, indent: f32) {
        let leading = size * 1.35;
        for line in self.wrap(s, size, weight, BODY_W - indent) {
            self.room_for(leading);
            self.y -= leading;
            self.colour(BLACK);
            self.text_at(MARGIN + indent, self.y + size * 0.3, size, weight, &line);
        }
    }

    /// A centred, wrapped paragraph.
    pub(super) fn centred(&mut self, s: &str, size: f32, weight: Weight) {
        let leading = size * 1.35;
        for line in self.wrap(s, size, weight, BODY_W) {
            self.room_for(leading);
            self.y -= leading;
            let x = MARGIN + (BODY_W - self.width(&line, size, weight)) / 2.0;
            self.colour(BLACK);
            self.text_at(x, self.y + size * 0.3, size, weight, &line);
        }
    }

    /// A section heading, kept on the page of what follows it.
    pub(super) fn heading(&mut self, s: &str) {
        self.gap(8.0);
        self.room_for(60.0);
        self.paragraph(s, 11.0, Weight::Bold, 0.0);
        self.gap(3.0);
    }

    /// A table: a shaded header row, then the rows, each as tall as its
    /// tallest wrapped cell; a row that does not fit starts a new page,
    /// which repeats the header.
    pub(super) fn table(&mut self, columns: &[Column], rows: &[Vec<String>], size: f32) {
        const PAD: f32 = 2.5;
        let leading = size * 1.25;
        let width: f32 = columns.iter().map(|c| c.width).sum();
        let wrap_row = |doc: &Doc, cells: &[String], weight| -> Vec<Vec<String>> {
            columns
                .iter()
                .zip(cells)
                .map(|(c, cell)| doc.wrap(cell, size, weight, c.width - 2.0 * PAD))
                .collect()
        };
        let titles: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
        let header = wrap_row(self, &titles, Weight::Bold);
        let height = |cells: &[Vec<String>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * leading + 2.0 * PAD
        };
        let header_h = height(&header);
        let draw = |doc: &mut Doc, cells: &[Vec<String>], weight, shaded: bool| {
            let h = height(cells);
            let top = doc.y;
            if shaded {
                doc.shade(MARGIN, top - h, width, h);
            }
            doc.colour(BLACK);
            let mut x = MARGIN;
            for (column, lines) in columns.iter().zip(cells) {
                for (i, line) in lines.iter().enumerate() {
                    let baseline = top - PAD - (i as f32 + 1.0) * leading + size * 0.25;
                    let lx = if column.right {
                        x + column.width - PAD - doc.width(line, size, weight)
                    } else {
                        x + PAD
                    };
                    doc.text_at(lx, baseline, size, weight, line);
                }
                x += column.width;
            }
            doc.y = top - h;
            doc.rule(MARGIN, doc.y, width);
        };
        self.room_for(header_h + leading + 2.0 * PAD);
        draw(self, &header, Weight::Bold, true);
        for row in rows {
            let cells = wrap_row(self, row, Weight::Regular);
            if self.y - height(&cells) < BOTTOM {
                self.new_page();
                draw(self, &header, Weight::Bold, true);
            }
            draw(self, &cells, Weight::Regular, false);
        }
    }

    /// The finished PDF: a footer on every page (`footer` on the left,
    /// `Trang i/n` on the right), the fonts subset and embedded, and the
    /// same bytes for the same document every time.
    pub(super) fn finish(
        mut self,
        title: &str,
        footer: &str,
        created: printpdf::OffsetDateTime,
    ) -> Result<Vec<u8>, MinutesError> {
        if !self.ops.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.ops));
        }
        let total = self.pages.len();
        let size = 7.0;
        let footer = self
            .wrap(footer, size, Weight::Regular, BODY_W - 70.0)
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut pages = Vec::with_capacity(total);
        for (i, ops) in std::mem::take(&mut self.pages).into_iter().enumerate() {
            self.ops = ops;
            self.colour(GREY);
            self.text_at(MARGIN, 30.0, size, Weight::Regular, &footer);
            let number = format!("Trang {}/{}", i + 1, total);
            let x = PAGE_W - MARGIN - self.width(&number, size, Weight::Regular);
            self.text_at(x, 30.0, size, Weight::Regular, &number);
            pages.push(PdfPage::new(
                Mm(210.0),
                Mm(297.0),
                std::mem::take(&mut self.ops),
            ));
        }
        let mut doc = PdfDocument::new(title);
        doc.metadata.info.creation_date = created;
        doc.metadata.info.modification_date = created;
        doc.metadata.info.metadata_date = created;
        doc.metadata.info.producer = "diemcau".into();
        doc.metadata.info.creator = "diemcau".into();
        for (weight, used) in [Weight::Regular, Weight::Bold].into_iter().zip(&self.used) {
            let font = subset(self.face(weight), weight, used)?;
            doc.resources
                .fonts
                .map
                .insert(font_id(weight), PdfFont::new(font));
        }
        let mut warnings = Vec::new();
        let mut bytes = doc
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut warnings);
        fix_document_id(&mut bytes)?;
        Ok(bytes)
    }
}

/// Fixed resource names rather than printpdf's random ones, so that the
/// same minutes come out as the same bytes.
fn font_id(weight: Weight) -> FontId {
    FontId(
        match weight {
            Weight::Regular => "F1",
            Weight::Bold => "F2",
        }
        .into(),
    )
}

/// The face cut down to the glyphs of `used` (and `.notdef`), keeping a
/// Unicode cmap so that printpdf maps the text onto the subset and writes
/// the `ToUnicode` table text extraction reads.
fn subset(
    full: &ParsedFont,
    weight: Weight,
    used: &BTreeSet<char>,
) -> Result<ParsedFont, MinutesError> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{subset, CmapTarget, SubsetProfile};
    let bytes = match weight {
        Weight::Regular => REGULAR_TTF,
        Weight::Bold => BOLD_TTF,
    };
    let mut glyphs: Vec<u16> = used
        .iter()
        .filter_map(|c| full.lookup_glyph_index(u32::from(*c)))
        .collect();
    // allsorts wants `.notdef` first and no glyph twice.
    glyphs.push(0);
    glyphs.sort_unstable();
    glyphs.dedup();
    let fail = |e: String| MinutesError::Pdf(format!("subsetting the font: {e}"));
    let font = ReadScope::new(bytes)
        .read::<FontData<'_>>()
        .map_err(|e| fail(e.to_string()))?;
    let provider = font.table_provider(0).map_err(|e| fail(e.to_string()))?;
    let cut = subset(&provider, &glyphs, &SubsetProfile::Pdf, CmapTarget::Unicode)
        .map_err(|e| fail(e.to_string()))?;
    ParsedFont::from_bytes(&cut, 0, &mut Vec::new())
        .ok_or_else(|| fail("the subset cannot be read back".into()))
}

/// printpdf draws the trailer's `/ID` at random on every save; the minutes
/// must be the same bytes each time they are made from the same log: the
/// PDF and its signature are two requests, and the signature is over the
/// PDF's hash. Both ids become the first 32 hex digits of the SHA-256 of
/// everything before them, which is what PDF asks an id to be (a digest of
/// the file), and of the same length, so no offset in the file moves.
fn fix_document_id(pdf: &mut [u8]) -> Result<(), MinutesError> {
    const ID: &[u8] = b"/ID[(";
    const LEN: usize = 32;
    let unexpected = || MinutesError::Pdf("the PDF's trailer is not as expected".into());
    let at = pdf
        .windows(ID.len())
        .rposition(|w| w == ID)
        .ok_or_else(unexpected)?;
    let first = at + ID.len();
    let second = first + LEN + 2;
    let shaped = pdf.get(first + LEN..second) == Some(b")(".as_slice())
        && pdf.get(second + LEN..second + LEN + 2) == Some(b")]".as_slice())
        && pdf[first..first + LEN]
            .iter()
            .chain(&pdf[second..second + LEN])
            .all(u8::is_ascii_alphanumeric);
    if !shaped {
        return Err(unexpected());
    }
    let digest = Sha256::digest(&pdf[..at]);
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    let id = &hex.as_bytes()[..LEN];
    pdf[first..first + LEN].copy_from_slice(id);
    pdf[second..second + LEN].copy_from_slice(id);
    Ok(())
}
