//! PDF rendering of a [`Document`]: an A4 table for printing.
//!
//! The first page opens with the organisation, the title, the period and when the report
//! was made; every page repeats the column headings and ends with «стр. N из M». Numbers,
//! money and dates are right-aligned; text wraps within its column (at most
//! [`MAX_CELL_LINES`] lines, then an ellipsis), so nothing runs into the next column. Rows
//! are striped; a group heading never stands alone at the bottom of a page, and a group
//! that runs onto the next page repeats its heading there. The document's notes (remarks,
//! signature lines) follow the table.
//!
//! The page turns landscape when the columns do not fit portrait comfortably. The fonts
//! (see `font.rs`) are subset to the glyphs used. Output is deterministic: no clock, no
//! random ids — the file id is a hash of the content.
//!
//! Rendering is two passes: [`paginate`] lays the document out into pages of [`Mark`]s in
//! points (measured with the font's advances), then [`write_pdf`] subsets the fonts to the
//! glyphs the marks use and writes the objects.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime, Timelike};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::document::{Cell, ColumnKind, Document};
use crate::font::{FontFace, FontParseError, Weight, ELLIPSIS};
use crate::money::{format_rubles_grouped, group_thousands, DecimalSeparator};

/// A4, the short side, in points (210 mm).
const A4_SHORT_PT: f32 = 595.28;
/// A4, the long side, in points (297 mm).
const A4_LONG_PT: f32 = 841.89;
/// The margin on every side (12.7 mm): inside what office printers can print.
const MARGIN_PT: f32 = 36.0;
/// The band at the bottom of a page for the page number.
const FOOTER_BAND_PT: f32 = 18.0;

/// Body text: legible on paper, small enough for a class per page.
const BODY_SIZE_PT: f32 = 9.0;
/// Column headings, bold.
const HEADING_SIZE_PT: f32 = 8.5;
/// The report's title, bold.
const TITLE_SIZE_PT: f32 = 15.0;
/// The organisation and the period.
const SUBTITLE_SIZE_PT: f32 = 10.0;
/// The generated-at line, the running header and the page numbers.
const NOTE_SIZE_PT: f32 = 8.0;
/// Line height as a multiple of the font size.
const LINE_HEIGHT_EM: f32 = 1.2;

/// Space between a cell's text and its left and right edges.
const CELL_PAD_X_PT: f32 = 4.0;
/// Space above and below a cell's text.
const CELL_PAD_Y_PT: f32 = 2.5;
/// Lines a body cell may wrap to before the rest is cut with an ellipsis: a row stays
/// readable and always fits a page.
pub const MAX_CELL_LINES: usize = 3;
/// Lines a column heading may wrap to.
const MAX_HEADING_LINES: usize = 3;
/// Lines the title may wrap to.
const MAX_TITLE_LINES: usize = 2;
/// Widest share of the table a text column may claim for itself before others get theirs.
const TEXT_COLUMN_MAX_SHARE: f32 = 0.45;
/// The narrowest a text column is squeezed to (when headings are shorter).
const TEXT_COLUMN_MIN_PT: f32 = 60.0;
/// The first text column names the row (a pupil, a day, a product): it keeps up to this
/// share of the table before it wraps, and other text columns give way first.
const KEY_COLUMN_SHARE: f32 = 0.33;
/// How far a text column may be squeezed (wrapping to about two lines) before the page
/// turns landscape.
const TEXT_SQUEEZE_BEFORE_LANDSCAPE: f32 = 0.6;
/// Rows of a group that must fit under its heading, or the heading moves to the next page.
const GROUP_ROWS_KEPT_WITH_HEADING: usize = 2;

/// Space above the totals row's rule.
const TOTALS_GAP_PT: f32 = 2.0;
/// Space between the table and the notes under it (signature lines need room to sign).
const NOTES_GAP_PT: f32 = 12.0;
/// Lines one note may wrap to.
const MAX_NOTE_LINES: usize = 6;

/// Grey levels (0 black, 1 white).
const STRIPE_GRAY: f32 = 0.94;
const HEADING_FILL_GRAY: f32 = 0.84;
const GROUP_FILL_GRAY: f32 = 0.90;
const RULE_GRAY: f32 = 0.45;
const NOTE_GRAY: f32 = 0.35;

/// What a PDF can fail on; the document's shape cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// An embedded font did not parse (a defect of the build).
    #[error("{0}")]
    Font(String),
    /// The font subsetter refused a font.
    #[error("subsetting the {font} font: {reason}")]
    Subset {
        /// Which font.
        font: &'static str,
        /// The subsetter's words.
        reason: String,
    },
}

impl From<FontParseError> for PdfError {
    fn from(error: FontParseError) -> PdfError {
        PdfError::Font(error.to_string())
    }
}

/// Renders `document` as a PDF.
pub fn to_pdf_bytes(document: &Document) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::load()?;
    let layout = TableLayout::plan(document, &fonts);
    let pages = paginate(document, &fonts, &layout);
    let info = PdfInfo {
        title: document.title(),
        author: document.organization(),
        created: document.generated_at(),
    };
    let page_size = PageSize {
        width_pt: layout.page_width_pt,
        height_pt: layout.page_height_pt,
    };
    write_pdf(&info, &fonts, page_size, &pages)
}

/// The two embedded faces.
pub(crate) struct Fonts {
    pub(crate) regular: FontFace,
    pub(crate) bold: FontFace,
}

impl Fonts {
    /// Parses both embedded faces.
    pub(crate) fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: FontFace::load(Weight::Regular)?,
            bold: FontFace::load(Weight::Bold)?,
        })
    }

    pub(crate) fn get(&self, weight: Weight) -> &FontFace {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// What the PDF's document information says.
pub(crate) struct PdfInfo<'a> {
    pub(crate) title: &'a str,
    pub(crate) author: Option<&'a str>,
    /// Also the source of the file's creation date, so output stays deterministic.
    pub(crate) created: Option<NaiveDateTime>,
}

/// A page's size in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PageSize {
    pub(crate) width_pt: f32,
    pub(crate) height_pt: f32,
}

/// Something drawn on a page; coordinates in points from the page's top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    /// One line of text; `baseline_pt` is measured down from the top.
    Text {
        weight: Weight,
        size_pt: f32,
        x_pt: f32,
        baseline_pt: f32,
        gray: f32,
        text: String,
    },
    /// A filled rectangle; `top_pt` is measured down from the top.
    Fill {
        x_pt: f32,
        top_pt: f32,
        width_pt: f32,
        height_pt: f32,
        gray: f32,
    },
    /// A horizontal rule at `y_pt` from the top.
    Rule {
        x_pt: f32,
        y_pt: f32,
        width_pt: f32,
        thickness_pt: f32,
        gray: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Page orientation and the column widths, decided once for the whole document.
struct TableLayout {
    page_width_pt: f32,
    page_height_pt: f32,
    column_widths_pt: Vec<f32>,
    /// How each column heading aligns: over its values (numbers, money, dates right).
    aligns: Vec<Align>,
}

impl TableLayout {
    fn plan(document: &Document, fonts: &Fonts) -> TableLayout {
        let columns = document.columns();
        let portrait_pt = A4_SHORT_PT - 2.0 * MARGIN_PT;
        let landscape_pt = A4_LONG_PT - 2.0 * MARGIN_PT;
        let pad = 2.0 * CELL_PAD_X_PT;

        let mut natural: Vec<f32> = columns
            .iter()
            .map(|column| fonts.bold.width_pt(&column.title, HEADING_SIZE_PT))
            .collect();
        let totals = document
            .totals()
            .into_iter()
            .map(|cells| (cells, Weight::Bold));
        let rows = document
            .rows()
            .iter()
            .map(|row| (row.as_slice(), Weight::Regular));
        for (cells, weight) in rows.chain(totals) {
            for (width, cell) in natural.iter_mut().zip(cells) {
                let text = cell_text(cell);
                *width = width.max(fonts.get(weight).width_pt(&text, BODY_SIZE_PT));
            }
        }
        let is_text: Vec<bool> = columns.iter().map(|c| c.kind == ColumnKind::Text).collect();
        let mut minimum = Vec::with_capacity(columns.len());
        for ((width, column), text) in natural.iter_mut().zip(columns).zip(&is_text) {
            *width += pad;
            let longest_word = column
                .title
                .split_whitespace()
                .map(|word| fonts.bold.width_pt(word, HEADING_SIZE_PT))
                .fold(0.0, f32::max)
                + pad;
            if *text {
                *width = width
                    .min(TEXT_COLUMN_MAX_SHARE * landscape_pt)
                    .max(longest_word);
                minimum.push(longest_word.max(width.min(TEXT_COLUMN_MIN_PT)));
            } else {
                *width = width.max(longest_word);
                minimum.push(*width);
            }
        }
        let comfortable: f32 = natural
            .iter()
            .zip(&minimum)
            .zip(&is_text)
            .map(|((n, m), text)| {
                if *text {
                    m.max(n * TEXT_SQUEEZE_BEFORE_LANDSCAPE)
                } else {
                    *n
                }
            })
            .sum();
        let (page_width_pt, page_height_pt, available) = if comfortable <= portrait_pt {
            (A4_SHORT_PT, A4_LONG_PT, portrait_pt)
        } else {
            (A4_LONG_PT, A4_SHORT_PT, landscape_pt)
        };
        if let Some(key) = is_text.iter().position(|t| *t) {
            minimum[key] = minimum[key].max(natural[key].min(KEY_COLUMN_SHARE * available));
        }
        let column_widths_pt = fit_widths(&natural, &minimum, &is_text, available);
        let aligns = columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Text => Align::Left,
                ColumnKind::Integer | ColumnKind::Money | ColumnKind::Date => Align::Right,
            })
            .collect();
        TableLayout {
            page_width_pt,
            page_height_pt,
            column_widths_pt,
            aligns,
        }
    }

    fn table_width_pt(&self) -> f32 {
        self.column_widths_pt.iter().sum()
    }

    /// Where the table's content ends, above the footer band.
    fn bottom_pt(&self) -> f32 {
        self.page_height_pt - MARGIN_PT - FOOTER_BAND_PT
    }
}

/// Column widths summing to `available`. Spare room goes to the text columns (or to all
/// when there are none). Missing room is taken from the widest text columns first: they are
/// capped at a common width, found by bisection, so short columns keep their single lines
/// and only the longest texts wrap; no text column goes below its minimum. When even the
/// minimums do not fit, everyone shrinks alike.
fn fit_widths(natural: &[f32], minimum: &[f32], is_text: &[bool], available: f32) -> Vec<f32> {
    /// Bisection steps: the cap is found to within 2^-40 of the widest column.
    const CAP_STEPS: usize = 40;
    let total: f32 = natural.iter().sum();
    let any_text = is_text.iter().any(|t| *t);
    let grows = |i: usize| is_text[i] || !any_text;
    if total <= available {
        let growing: f32 = (0..natural.len())
            .filter(|&i| grows(i))
            .map(|i| natural[i])
            .sum();
        let spare = available - total;
        return (0..natural.len())
            .map(|i| {
                if grows(i) && growing > 0.0 {
                    natural[i] + spare * natural[i] / growing
                } else {
                    natural[i]
                }
            })
            .collect();
    }
    let capped = |cap: f32| -> Vec<f32> {
        (0..natural.len())
            .map(|i| {
                if is_text[i] {
                    natural[i].min(cap.max(minimum[i]))
                } else {
                    natural[i]
                }
            })
            .collect()
    };
    if capped(0.0).iter().sum::<f32>() > available {
        let minimum_total: f32 = minimum.iter().sum();
        return minimum
            .iter()
            .map(|m| m * available / minimum_total)
            .collect();
    }
    let (mut low, mut high) = (0.0_f32, natural.iter().copied().fold(0.0, f32::max));
    for _ in 0..CAP_STEPS {
        let middle = (low + high) / 2.0;
        if capped(middle).iter().sum::<f32>() > available {
            high = middle;
        } else {
            low = middle;
        }
    }
    capped(low)
}

/// A cell as one line of text, before wrapping.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(text) => printable(text),
        Cell::Integer(value) => group_thousands(&value.to_string()),
        Cell::Money { kopecks } => format_rubles_grouped(*kopecks, DecimalSeparator::Comma),
        Cell::Date(date) => date.format("%d.%m.%Y").to_string(),
    }
}

/// Text with control characters (tabs, line breaks, NUL) as spaces: a cell is laid out by
/// this module, not by characters the font has no glyph for.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(crate) fn line_height_pt(size_pt: f32) -> f32 {
    size_pt * LINE_HEIGHT_EM
}

/// Breaks `text` into at most `max_lines` lines no wider than `width_pt`: at spaces and
/// after hyphens where possible («учебно-|воспитательной»), inside a word where it is too
/// long, and with an ellipsis ending the last line when text is left over. Never returns an
/// empty list.
pub(crate) fn wrap(
    font: &FontFace,
    size_pt: f32,
    text: &str,
    width_pt: f32,
    max_lines: usize,
) -> Vec<String> {
    let space = font.char_width_pt(' ', size_pt);
    let text = printable(text);
    let mut pieces = break_opportunities(&text);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    let mut index = 0;
    while index < pieces.len() {
        if lines.len() + 1 >= max_lines.max(1) {
            // The last line allowed: the rest of the text, cut to fit.
            let rest = join_pieces(&pieces[index..]);
            lines.push(ellipsize(font, size_pt, &rest, width_pt));
            return lines;
        }
        let Piece { text: piece, glued } = pieces[index];
        let piece_width = font.width_pt(piece, size_pt);
        let gap = if line.is_empty() || glued { 0.0 } else { space };
        if line_width + gap + piece_width <= width_pt {
            if gap > 0.0 {
                line.push(' ');
            }
            line.push_str(piece);
            line_width += gap + piece_width;
            index += 1;
        } else if !line.is_empty() {
            // Close the line; the piece starts the next one.
            lines.push(std::mem::take(&mut line));
            line_width = 0.0;
        } else {
            // The piece is wider than a line of its own: break it where it runs out.
            let cut = fitting_prefix_len(font, size_pt, piece, width_pt).max(first_char_len(piece));
            lines.push(piece[..cut].to_owned());
            pieces[index].text = &piece[cut..];
            pieces[index].glued = true;
            if pieces[index].text.is_empty() {
                index += 1;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A part of a text between break opportunities.
#[derive(Debug, Clone, Copy)]
struct Piece<'a> {
    text: &'a str,
    /// Follows the previous piece without a space (after a hyphen).
    glued: bool,
}

fn break_opportunities(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    for word in text.split_whitespace() {
        let mut glued = false;
        for part in word.split_inclusive('-') {
            pieces.push(Piece { text: part, glued });
            glued = true;
        }
    }
    pieces
}

fn join_pieces(pieces: &[Piece<'_>]) -> String {
    let mut text = String::new();
    for (index, piece) in pieces.iter().enumerate() {
        if index > 0 && !piece.glued {
            text.push(' ');
        }
        text.push_str(piece.text);
    }
    text
}

fn first_char_len(text: &str) -> usize {
    text.chars().next().map_or(0, char::len_utf8)
}

/// The byte length of the longest prefix of `text` no wider than `width_pt`.
fn fitting_prefix_len(font: &FontFace, size_pt: f32, text: &str, width_pt: f32) -> usize {
    let mut width = 0.0;
    for (index, c) in text.char_indices() {
        width += font.char_width_pt(c, size_pt);
        if width > width_pt {
            return index;
        }
    }
    text.len()
}

/// `text` if it fits in `width_pt`, else its longest prefix that fits with «…» after it.
pub(crate) fn ellipsize(font: &FontFace, size_pt: f32, text: &str, width_pt: f32) -> String {
    let text = printable(text);
    if font.width_pt(&text, size_pt) <= width_pt {
        return text;
    }
    let ellipsis = font.char_width_pt(ELLIPSIS, size_pt);
    if ellipsis > width_pt {
        return String::new();
    }
    let cut = fitting_prefix_len(font, size_pt, &text, width_pt - ellipsis);
    let mut cut_text = text[..cut].trim_end().to_owned();
    cut_text.push(ELLIPSIS);
    cut_text
}

/// The lines of one row's cells, laid out for their columns.
struct RowLines {
    /// Each cell's lines and alignment: text to the left (also a label such as «Итого» in a
    /// number column of the totals row), numbers, money and dates to the right.
    cells: Vec<(Vec<String>, Align)>,
    height_pt: f32,
}

/// Pages being filled, top to bottom.
struct Pager<'a> {
    document: &'a Document,
    fonts: &'a Fonts,
    layout: &'a TableLayout,
    pages: Vec<Vec<Mark>>,
    /// The next free line, in points from the top of the current page.
    y_pt: f32,
}

impl Pager<'_> {
    fn marks(&mut self) -> &mut Vec<Mark> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(
        &mut self,
        weight: Weight,
        size_pt: f32,
        x_pt: f32,
        top_pt: f32,
        gray: f32,
        text: String,
    ) {
        if text.is_empty() {
            return;
        }
        let (ascender, descender, _) = self.fonts.get(weight).vertical_metrics();
        let glyph_box = (ascender - descender) * size_pt / 1000.0;
        let baseline_pt =
            top_pt + (line_height_pt(size_pt) - glyph_box) / 2.0 + ascender * size_pt / 1000.0;
        self.marks().push(Mark::Text {
            weight,
            size_pt,
            x_pt,
            baseline_pt,
            gray,
            text,
        });
    }

    /// One line across the page at the cursor, cut to the page's width.
    fn line_across(&mut self, weight: Weight, size_pt: f32, gray: f32, text: &str) {
        let width = self.layout.page_width_pt - 2.0 * MARGIN_PT;
        let fitted = ellipsize(self.fonts.get(weight), size_pt, text, width);
        self.text(weight, size_pt, MARGIN_PT, self.y_pt, gray, fitted);
        self.y_pt += line_height_pt(size_pt);
    }

    fn start_page(&mut self) {
        let first = self.pages.is_empty();
        self.pages.push(Vec::new());
        self.y_pt = MARGIN_PT;
        let document = self.document;
        if first {
            if let Some(organization) = document.organization() {
                self.line_across(Weight::Regular, SUBTITLE_SIZE_PT, 0.0, organization);
                self.y_pt += 2.0;
            }
            let width = self.layout.page_width_pt - 2.0 * MARGIN_PT;
            for line in wrap(
                &self.fonts.bold,
                TITLE_SIZE_PT,
                document.title(),
                width,
                MAX_TITLE_LINES,
            ) {
                self.text(Weight::Bold, TITLE_SIZE_PT, MARGIN_PT, self.y_pt, 0.0, line);
                self.y_pt += line_height_pt(TITLE_SIZE_PT);
            }
            if let Some(period) = document.period() {
                self.line_across(Weight::Regular, SUBTITLE_SIZE_PT, 0.0, period);
            }
            if let Some(generated_at) = document.generated_at() {
                let line = generated_line(generated_at);
                self.line_across(Weight::Regular, NOTE_SIZE_PT, NOTE_GRAY, &line);
            }
            self.y_pt += 8.0;
        } else {
            let running = match document.period() {
                Some(period) => format!("{} · {period}", document.title()),
                None => document.title().to_owned(),
            };
            self.line_across(Weight::Regular, NOTE_SIZE_PT, NOTE_GRAY, &running);
            self.y_pt += 4.0;
        }
        self.column_headings();
    }

    fn column_headings(&mut self) {
        let layout = self.layout;
        let cells: Vec<Vec<String>> = self
            .document
            .columns()
            .iter()
            .zip(&layout.column_widths_pt)
            .map(|(column, width)| {
                wrap(
                    &self.fonts.bold,
                    HEADING_SIZE_PT,
                    &column.title,
                    width - 2.0 * CELL_PAD_X_PT,
                    MAX_HEADING_LINES,
                )
            })
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
        let height = lines as f32 * line_height_pt(HEADING_SIZE_PT) + 2.0 * CELL_PAD_Y_PT;
        let top = self.y_pt;
        let width = layout.table_width_pt();
        self.marks().push(Mark::Fill {
            x_pt: MARGIN_PT,
            top_pt: top,
            width_pt: width,
            height_pt: height,
            gray: HEADING_FILL_GRAY,
        });
        self.rule(top, 0.6);
        self.rule(top + height, 0.6);
        // Headings sit at the bottom of their box, aligned like their column's values.
        let mut x = MARGIN_PT;
        for ((lines_of_cell, width), align) in cells
            .iter()
            .zip(&layout.column_widths_pt)
            .zip(&layout.aligns)
        {
            let skip = (lines - lines_of_cell.len()) as f32 * line_height_pt(HEADING_SIZE_PT);
            for (index, line) in lines_of_cell.iter().enumerate() {
                let line_top =
                    top + CELL_PAD_Y_PT + skip + index as f32 * line_height_pt(HEADING_SIZE_PT);
                let line_x = aligned_x(&self.fonts.bold, HEADING_SIZE_PT, line, x, *width, *align);
                self.text(
                    Weight::Bold,
                    HEADING_SIZE_PT,
                    line_x,
                    line_top,
                    0.0,
                    line.clone(),
                );
            }
            x += width;
        }
        self.y_pt = top + height;
    }

    fn rule(&mut self, y_pt: f32, thickness_pt: f32) {
        let width_pt = self.layout.table_width_pt();
        self.marks().push(Mark::Rule {
            x_pt: MARGIN_PT,
            y_pt,
            width_pt,
            thickness_pt,
            gray: RULE_GRAY,
        });
    }

    fn row_lines(&self, cells: &[Cell], weight: Weight) -> RowLines {
        let font = self.fonts.get(weight);
        let cells: Vec<(Vec<String>, Align)> = cells
            .iter()
            .zip(&self.layout.column_widths_pt)
            .map(|(cell, width)| {
                let inner = width - 2.0 * CELL_PAD_X_PT;
                let text = cell_text(cell);
                match cell {
                    Cell::Text(_) => (
                        wrap(font, BODY_SIZE_PT, &text, inner, MAX_CELL_LINES),
                        Align::Left,
                    ),
                    _ => (
                        vec![ellipsize(font, BODY_SIZE_PT, &text, inner)],
                        Align::Right,
                    ),
                }
            })
            .collect();
        let lines = cells
            .iter()
            .map(|(lines, _)| lines.len())
            .max()
            .unwrap_or(1)
            .max(1);
        RowLines {
            cells,
            height_pt: lines as f32 * line_height_pt(BODY_SIZE_PT) + 2.0 * CELL_PAD_Y_PT,
        }
    }

    fn draw_row(&mut self, row: &RowLines, weight: Weight, striped: bool) {
        let top = self.y_pt;
        let layout = self.layout;
        if striped {
            self.marks().push(Mark::Fill {
                x_pt: MARGIN_PT,
                top_pt: top,
                width_pt: layout.table_width_pt(),
                height_pt: row.height_pt,
                gray: STRIPE_GRAY,
            });
        }
        let font = self.fonts.get(weight);
        let mut x = MARGIN_PT;
        let mut texts = Vec::new();
        for ((lines, align), width) in row.cells.iter().zip(&layout.column_widths_pt) {
            for (index, line) in lines.iter().enumerate() {
                let line_top = top + CELL_PAD_Y_PT + index as f32 * line_height_pt(BODY_SIZE_PT);
                texts.push((
                    aligned_x(font, BODY_SIZE_PT, line, x, *width, *align),
                    line_top,
                    line.clone(),
                ));
            }
            x += width;
        }
        for (line_x, line_top, line) in texts {
            self.text(weight, BODY_SIZE_PT, line_x, line_top, 0.0, line);
        }
        self.y_pt = top + row.height_pt;
    }

    fn group_heading_height_pt() -> f32 {
        line_height_pt(BODY_SIZE_PT) + 2.0 * CELL_PAD_Y_PT + 2.0
    }

    fn draw_group_heading(&mut self, heading: &str) {
        let top = self.y_pt + 2.0;
        let height = Self::group_heading_height_pt() - 2.0;
        let width = self.layout.table_width_pt();
        self.marks().push(Mark::Fill {
            x_pt: MARGIN_PT,
            top_pt: top,
            width_pt: width,
            height_pt: height,
            gray: GROUP_FILL_GRAY,
        });
        let text = ellipsize(
            &self.fonts.bold,
            BODY_SIZE_PT,
            heading,
            width - 2.0 * CELL_PAD_X_PT,
        );
        self.text(
            Weight::Bold,
            BODY_SIZE_PT,
            MARGIN_PT + CELL_PAD_X_PT,
            top + CELL_PAD_Y_PT,
            0.0,
            text,
        );
        self.y_pt = top + height;
    }

    fn fits(&self, height_pt: f32) -> bool {
        self.y_pt + height_pt <= self.layout.bottom_pt()
    }
}

/// «Сформирован 27.11.2026 в 10:20».
fn generated_line(at: NaiveDateTime) -> String {
    format!("Сформирован {}", at.format("%d.%m.%Y в %H:%M"))
}

fn aligned_x(
    font: &FontFace,
    size_pt: f32,
    text: &str,
    column_x: f32,
    column_width: f32,
    align: Align,
) -> f32 {
    match align {
        Align::Left => column_x + CELL_PAD_X_PT,
        Align::Right => column_x + column_width - CELL_PAD_X_PT - font.width_pt(text, size_pt),
    }
}

/// Lays the document out into pages of marks, footers included.
fn paginate(document: &Document, fonts: &Fonts, layout: &TableLayout) -> Vec<Vec<Mark>> {
    let mut pager = Pager {
        document,
        fonts,
        layout,
        pages: Vec::new(),
        y_pt: 0.0,
    };
    pager.start_page();
    // The totals row is kept with the last row above it: it never stands alone on a page.
    let totals = document
        .totals()
        .map(|cells| pager.row_lines(cells, Weight::Bold));
    let totals_height_pt = totals
        .as_ref()
        .map_or(0.0, |row| row.height_pt + TOTALS_GAP_PT);
    let rows_total = document.rows().len();
    let mut rows_drawn = 0;
    for section in document.sections() {
        let lines: Vec<RowLines> = section
            .rows
            .iter()
            .map(|row| pager.row_lines(row, Weight::Regular))
            .collect();
        if let Some(heading) = section.heading {
            let kept_rows = lines.len().min(GROUP_ROWS_KEPT_WITH_HEADING);
            let mut kept: f32 = lines[..kept_rows].iter().map(|r| r.height_pt).sum();
            if rows_drawn + kept_rows == rows_total {
                kept += totals_height_pt;
            }
            if !pager.fits(Pager::group_heading_height_pt() + kept) {
                pager.start_page();
            }
            pager.draw_group_heading(heading);
        }
        for (index, row) in lines.iter().enumerate() {
            rows_drawn += 1;
            let last = rows_drawn == rows_total;
            let needed = row.height_pt + if last { totals_height_pt } else { 0.0 };
            if !pager.fits(needed) {
                pager.start_page();
                if let Some(heading) = section.heading {
                    pager.draw_group_heading(&format!("{heading} (продолжение)"));
                }
            }
            pager.draw_row(row, Weight::Regular, index % 2 == 1);
        }
    }
    if rows_total == 0 && !document.has_groups() {
        let text = "Нет данных".to_owned();
        let top = pager.y_pt + CELL_PAD_Y_PT;
        pager.text(
            Weight::Regular,
            BODY_SIZE_PT,
            MARGIN_PT + CELL_PAD_X_PT,
            top,
            NOTE_GRAY,
            text,
        );
        pager.y_pt = top + line_height_pt(BODY_SIZE_PT) + CELL_PAD_Y_PT;
    }
    if let Some(row) = totals {
        if !pager.fits(totals_height_pt) {
            pager.start_page();
        }
        pager.y_pt += TOTALS_GAP_PT;
        let top = pager.y_pt;
        pager.rule(top, 0.8);
        pager.draw_row(&row, Weight::Bold, false);
    }
    if !document.notes().is_empty() {
        pager.y_pt += NOTES_GAP_PT;
        let width = layout.page_width_pt - 2.0 * MARGIN_PT;
        for note in document.notes() {
            for line in wrap(&fonts.regular, BODY_SIZE_PT, note, width, MAX_NOTE_LINES) {
                if !pager.fits(line_height_pt(BODY_SIZE_PT)) {
                    pager.start_page();
                }
                let top = pager.y_pt;
                pager.text(Weight::Regular, BODY_SIZE_PT, MARGIN_PT, top, 0.0, line);
                pager.y_pt += line_height_pt(BODY_SIZE_PT);
            }
        }
    }

    let count = pager.pages.len();
    let footer_top = layout.page_height_pt - MARGIN_PT - line_height_pt(NOTE_SIZE_PT);
    let left = document
        .generated_at()
        .map(generated_line)
        .unwrap_or_default();
    for number in 1..=count {
        let text = format!("стр. {number} из {count}");
        let width = fonts.regular.width_pt(&text, NOTE_SIZE_PT);
        let right_x = layout.page_width_pt - MARGIN_PT - width;
        let page = &mut pager.pages[number - 1];
        let (ascender, descender, _) = fonts.regular.vertical_metrics();
        let glyph_box = (ascender - descender) * NOTE_SIZE_PT / 1000.0;
        let baseline_pt = footer_top
            + (line_height_pt(NOTE_SIZE_PT) - glyph_box) / 2.0
            + ascender * NOTE_SIZE_PT / 1000.0;
        for (x_pt, text) in [(right_x, text), (MARGIN_PT, left.clone())] {
            if !text.is_empty() {
                page.push(Mark::Text {
                    weight: Weight::Regular,
                    size_pt: NOTE_SIZE_PT,
                    x_pt,
                    baseline_pt,
                    gray: NOTE_GRAY,
                    text,
                });
            }
        }
    }
    pager.pages
}

/// One embedded font: its subset and the glyph ids its text uses.
struct EmbeddedFont {
    /// Old glyph id → new glyph id (= CID).
    new_ids: BTreeMap<u16, u16>,
    subset: Vec<u8>,
    /// New glyph ids in order with their advance (1/1000 em) and the character they show.
    glyphs: Vec<(u16, f32, Option<char>)>,
    tag: String,
}

fn embed(font: &FontFace, pages: &[Vec<Mark>]) -> Result<EmbeddedFont, PdfError> {
    let mut chars_of_glyph: BTreeMap<u16, char> = BTreeMap::new();
    for mark in pages.iter().flatten() {
        if let Mark::Text { weight, text, .. } = mark {
            if *weight == font.weight {
                for c in text.chars() {
                    chars_of_glyph.entry(font.glyph(c)).or_insert(c);
                }
            }
        }
    }
    let used: Vec<u16> = chars_of_glyph.keys().copied().collect();
    let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&used);
    let subset = subsetter::subset(font.data, 0, &remapper).map_err(|error| PdfError::Subset {
        font: font.postscript_name(),
        reason: error.to_string(),
    })?;
    let mut new_ids = BTreeMap::new();
    let mut glyphs = Vec::new();
    for (new_id, old_id) in remapper.remapped_gids().enumerate() {
        let new_id = u16::try_from(new_id).unwrap_or(u16::MAX);
        new_ids.insert(old_id, new_id);
        let shown = if old_id == 0 {
            None
        } else {
            chars_of_glyph.get(&old_id).copied()
        };
        glyphs.push((new_id, font.advance_milli_em(old_id), shown));
    }
    let tag = subset_tag(&used);
    Ok(EmbeddedFont {
        new_ids,
        subset,
        glyphs,
        tag,
    })
}

/// Six capital letters naming a subset (PDF 32000 §9.6.4), from the glyphs it holds.
fn subset_tag(glyphs: &[u16]) -> String {
    let mut hash = Fnv64::new();
    for glyph in glyphs {
        hash.write(&glyph.to_be_bytes());
    }
    let mut value = hash.value();
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (value % 26) as u8);
            value /= 26;
            letter
        })
        .collect()
}

/// FNV-1a, 64 bits: a stable hash (std's hasher may change between Rust releases).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn value(&self) -> u64 {
        self.0
    }
}

/// Deflate level for streams: 6 is zlib's default balance of size and time.
const DEFLATE_LEVEL: u8 = 6;

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, DEFLATE_LEVEL)
}

fn font_resource_name(weight: Weight) -> Name<'static> {
    match weight {
        Weight::Regular => Name(b"F1"),
        Weight::Bold => Name(b"F2"),
    }
}

/// Writes pages of marks as a PDF: the fonts subset to the glyphs the marks use, the file
/// id a hash of the content.
pub(crate) fn write_pdf(
    info: &PdfInfo<'_>,
    fonts: &Fonts,
    page_size: PageSize,
    pages: &[Vec<Mark>],
) -> Result<Vec<u8>, PdfError> {
    let mut next_id = 1;
    let mut alloc = || {
        let id = Ref::new(next_id);
        next_id += 1;
        id
    };
    let catalog_id = alloc();
    let tree_id = alloc();
    let info_id = alloc();

    let mut pdf = Pdf::new();
    let mut file_hash = Fnv64::new();
    let mut embedded = BTreeMap::new();
    let mut font_refs = BTreeMap::new();
    for weight in Weight::ALL {
        let face = fonts.get(weight);
        let font = embed(face, pages)?;
        let (type0_id, cid_id, descriptor_id, cmap_id, file_id) =
            (alloc(), alloc(), alloc(), alloc(), alloc());
        let base_font = format!("{}+{}", font.tag, face.postscript_name());
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0_id)
            .base_font(Name(base_font.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(Name(base_font.as_bytes()))
            .system_info(system_info)
            .font_descriptor(descriptor_id)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths()
            .consecutive(0, font.glyphs.iter().map(|(_, advance, _)| *advance));
        cid.finish();

        let (ascender, descender, cap_height) = face.vertical_metrics();
        let [x_min, y_min, x_max, y_max] = face.bounding_box();
        let bold = weight == Weight::Bold;
        pdf.font_descriptor(descriptor_id)
            .name(Name(base_font.as_bytes()))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(x_min, y_min, x_max, y_max))
            .italic_angle(0.0)
            .ascent(ascender)
            .descent(descender)
            .cap_height(cap_height)
            // StemV is not in the font; these are the usual estimates for book and bold.
            .stem_v(if bold { 140.0 } else { 80.0 })
            .font_file2(file_id);

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
        for (new_id, _, shown) in &font.glyphs {
            if let Some(c) = shown {
                cmap.pair(*new_id, *c);
            }
        }
        pdf.cmap(cmap_id, &cmap.finish());
        let compressed = deflate(&font.subset);
        file_hash.write(&compressed);
        pdf.stream(file_id, &compressed)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(font.subset.len()).unwrap_or(i32::MAX),
            );
        font_refs.insert(weight, type0_id);
        embedded.insert(weight, font);
    }

    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (marks, (page_id, content_id)) in pages.iter().zip(&page_ids) {
        let content = page_content(marks, page_size.height_pt, fonts, &embedded);
        let compressed = deflate(&content);
        file_hash.write(&compressed);
        pdf.stream(*content_id, &compressed)
            .filter(Filter::FlateDecode);
        let mut page = pdf.page(*page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, page_size.width_pt, page_size.height_pt))
            .contents(*content_id);
        let mut resources = page.resources();
        let mut page_fonts = resources.fonts();
        for (weight, id) in &font_refs {
            page_fonts.pair(font_resource_name(*weight), *id);
        }
    }

    pdf.catalog(catalog_id).pages(tree_id).lang(TextStr("ru"));
    let mut information = pdf.document_info(info_id);
    information
        .title(TextStr(info.title))
        .producer(TextStr("schoolcard-reports"));
    if let Some(author) = info.author {
        information.author(TextStr(author));
    }
    if let Some(date) = info.created.and_then(pdf_date) {
        information.creation_date(date);
    }
    information.finish();
    let id = file_hash.value().to_be_bytes();
    let mut second = Fnv64::new();
    second.write(&id);
    let file_id: Vec<u8> = id
        .iter()
        .chain(&second.value().to_be_bytes())
        .copied()
        .collect();
    pdf.set_file_id((file_id.clone(), file_id));
    Ok(pdf.finish())
}

fn pdf_date(at: NaiveDateTime) -> Option<Date> {
    let year = u16::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    // Month, day, hour, minute and second of a valid NaiveDateTime all fit in a u8.
    let byte = |value: u32| u8::try_from(value).unwrap_or(0);
    Some(
        Date::new(year)
            .month(byte(at.month()))
            .day(byte(at.day()))
            .hour(byte(at.hour()))
            .minute(byte(at.minute()))
            .second(byte(at.second())),
    )
}

fn page_content(
    marks: &[Mark],
    page_height_pt: f32,
    fonts: &Fonts,
    embedded: &BTreeMap<Weight, EmbeddedFont>,
) -> Vec<u8> {
    let mut content = Content::new();
    for mark in marks {
        match mark {
            Mark::Fill {
                x_pt,
                top_pt,
                width_pt,
                height_pt,
                gray,
            } => {
                content
                    .set_fill_gray(*gray)
                    .rect(
                        *x_pt,
                        page_height_pt - top_pt - height_pt,
                        *width_pt,
                        *height_pt,
                    )
                    .fill_nonzero();
            }
            Mark::Rule {
                x_pt,
                y_pt,
                width_pt,
                thickness_pt,
                gray,
            } => {
                let y = page_height_pt - y_pt;
                content
                    .set_stroke_gray(*gray)
                    .set_line_width(*thickness_pt)
                    .move_to(*x_pt, y)
                    .line_to(x_pt + width_pt, y)
                    .stroke();
            }
            Mark::Text {
                weight,
                size_pt,
                x_pt,
                baseline_pt,
                gray,
                text,
            } => {
                let face = fonts.get(*weight);
                let Some(font) = embedded.get(weight) else {
                    continue;
                };
                let encoded: Vec<u8> = text
                    .chars()
                    .map(|c| font.new_ids.get(&face.glyph(c)).copied().unwrap_or(0))
                    .flat_map(u16::to_be_bytes)
                    .collect();
                content
                    .begin_text()
                    .set_fill_gray(*gray)
                    .set_font(font_resource_name(*weight), *size_pt)
                    .next_line(*x_pt, page_height_pt - baseline_pt)
                    .show(Str(&encoded))
                    .end_text();
            }
        }
    }
    content.finish().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular() -> FontFace {
        FontFace::load(Weight::Regular).expect("embedded font parses")
    }

    #[test]
    fn wrapping_keeps_every_line_inside_its_column() {
        let font = regular();
        let cases: &[(&str, f32, usize, &[&str])] = &[
            (
                "Ёлкина Софья Андреевна",
                500.0,
                3,
                &["Ёлкина Софья Андреевна"],
            ),
            (
                "Ёлкина Софья Андреевна",
                60.0,
                3,
                &["Ёлкина", "Софья", "Андреевна"],
            ),
            (
                "Ёлкина Софья Андреевна",
                60.0,
                2,
                &["Ёлкина", "Софья Андр…"],
            ),
            ("", 60.0, 3, &[""]),
            ("   ", 60.0, 3, &[""]),
            ("Константинопольская", 40.0, 1, &["Конста…"]),
            (
                "заместитель директора по учебно-воспитательной работе",
                110.0,
                3,
                &[
                    "заместитель директора",
                    "по учебно-",
                    "воспитательной работе",
                ],
            ),
            (
                "Шереметьева-Задунайская Анна",
                100.0,
                3,
                &["Шереметьева-", "Задунайская Анна"],
            ),
        ];
        for (text, width, max_lines, expected) in cases {
            let lines = wrap(&font, BODY_SIZE_PT, text, *width, *max_lines);
            assert_eq!(
                lines, *expected,
                "{text:?} in {width} pt, {max_lines} lines"
            );
        }
    }

    #[test]
    fn long_words_break_inside() {
        let font = regular();
        let word = "Константинопольская";
        let whole = wrap(&font, BODY_SIZE_PT, word, 40.0, 3);
        assert_eq!(whole.concat(), word);
        let cut = wrap(&font, BODY_SIZE_PT, word, 40.0, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with(ELLIPSIS), "{cut:?}");
        for line in whole.iter().chain(&cut) {
            assert!(font.width_pt(line, BODY_SIZE_PT) <= 40.0, "{line:?}");
        }
    }

    fn rounded(widths: &[f32]) -> Vec<f32> {
        widths.iter().map(|w| (w * 100.0).round() / 100.0).collect()
    }

    #[test]
    fn widths_fill_the_page_and_respect_minimums() {
        // Spare room goes to the text column.
        let widths = fit_widths(&[100.0, 50.0], &[60.0, 50.0], &[true, false], 300.0);
        assert_eq!(widths, vec![250.0, 50.0]);
        // Too wide: the text column gives way down to its minimum, numbers keep theirs.
        let widths = fit_widths(&[400.0, 50.0], &[60.0, 50.0], &[true, false], 300.0);
        assert_eq!(rounded(&widths), vec![250.0, 50.0]);
        // The widest text columns give way first; the short one keeps its width.
        let widths = fit_widths(
            &[200.0, 100.0, 50.0],
            &[60.0, 60.0, 50.0],
            &[true, true, true],
            300.0,
        );
        assert_eq!(rounded(&widths), vec![150.0, 100.0, 50.0]);
        // Even the minimums do not fit: everyone shrinks alike.
        let widths = fit_widths(&[400.0, 400.0], &[200.0, 400.0], &[true, false], 300.0);
        assert_eq!(widths, vec![100.0, 200.0]);
    }
}
