//! The canteen till's receipt (чек): what a pupil took, what was free and from which
//! budget, what was paid from the balance and what is left. Rendered as ESC/POS bytes for
//! a thermal printer ([`receipt_escpos`]) or as a narrow PDF page ([`receipt_pdf`]) for a
//! till without one.
//!
//! Both renderings lay out the same [`Block`]s, so the paper and the PDF say the same
//! thing: centred headings, a name wrapped on the left with its amount on the right of its
//! last line, rules, and the total in large type.
//!
//! ESC/POS, as Epson's command reference defines it and the usual 58/80 mm clones accept:
//! `ESC @` resets the printer; `ESC t n` selects the code page — PC866 (Cyrillic #2) is 17
//! on Epson and on most Chinese firmwares, but vendors differ (some use 7, 59 or 46), so
//! it is [`PrinterProfile::code_page`]; `FS .` first leaves the double-byte Chinese mode
//! those firmwares may start in, where Cyrillic bytes print as hieroglyphs; `ESC M 0`
//! Font A (12×24 dots: 32 characters on 58 mm, 48 on 80 mm); `ESC a n` alignment;
//! `ESC E n` bold; `GS ! n` character size (double height keeps the line's width);
//! `ESC d n` feeds n lines, so the text clears the cutter; `GS V 66 0` feeds to the
//! cutter and cuts partially. Text is CP866, one byte a column; characters CP866 lacks
//! are replaced before layout (see [`to_cp866_text`]): «» by `"`, dashes by `-`, the
//! ruble sign by «руб.».

use chrono::NaiveDateTime;

use crate::font::Weight;
use crate::meal_order::BudgetSource;
use crate::money::{
    format_rubles_grouped, format_rubles_with_sign, DecimalSeparator, THOUSANDS_SEPARATOR,
};
use crate::pdf::{
    ellipsize, line_height_pt, printable, wrap, write_pdf, Fonts, Mark, PageSize, PdfError, PdfInfo,
};

/// A receipt, as the till hands it over. Amounts are integer kopecks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The school's name, printed on top.
    pub school: String,
    /// The till («Столовая, касса 1»).
    pub till: String,
    /// The cashier's name.
    pub cashier: String,
    /// When the sale was made, school wall-clock time.
    pub issued_at: NaiveDateTime,
    /// The receipt's number as the till counts them («000123»).
    pub number: String,
    /// The pupil's full name.
    pub pupil: String,
    /// The pupil's class («5А»).
    pub class: String,
    /// What was bought, in the order rung up.
    pub lines: Vec<ReceiptLine>,
    /// Free meals given with this sale (or alone).
    pub free_meals: Vec<FreeMeal>,
    /// What was taken from the pupil's balance.
    pub paid_from_balance_kopecks: i64,
    /// The balance after the sale (negative for a debt, where the school allows it).
    pub balance_after_kopecks: i64,
}

impl Receipt {
    /// The sum of the lines' sums.
    pub fn total_kopecks(&self) -> i64 {
        self.lines
            .iter()
            .map(ReceiptLine::sum_kopecks)
            .fold(0, i64::saturating_add)
    }
}

/// One thing bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    /// The product as the menu names it («Котлета куриная с картофельным пюре»).
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// The price of one, in kopecks.
    pub unit_price_kopecks: i64,
}

impl ReceiptLine {
    /// Quantity × unit price.
    pub fn sum_kopecks(&self) -> i64 {
        self.unit_price_kopecks
            .saturating_mul(i64::from(self.quantity))
    }
}

/// A free meal given to a pupil entitled to it (льготное питание).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeMeal {
    /// The meal complex («Обед, 1–4 классы»).
    pub complex: String,
    /// Which budget pays for it.
    pub source: BudgetSource,
}

/// The paper's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperWidth {
    /// 58 mm roll: 48 mm printed, 32 characters of Font A.
    Mm58,
    /// 80 mm roll: 72 mm printed, 48 characters of Font A.
    Mm80,
}

impl PaperWidth {
    /// Characters of Font A (12 dots wide at 203 dpi) on a line.
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm58 => 32,
            PaperWidth::Mm80 => 48,
        }
    }

    fn paper_mm(self) -> f32 {
        match self {
            PaperWidth::Mm58 => 58.0,
            PaperWidth::Mm80 => 80.0,
        }
    }

    fn printed_mm(self) -> f32 {
        match self {
            PaperWidth::Mm58 => 48.0,
            PaperWidth::Mm80 => 72.0,
        }
    }
}

/// ESC/POS code page number of PC866 on Epson printers and most clones.
pub const CODE_PAGE_PC866_EPSON: u8 = 17;

/// Narrowest line [`receipt_escpos`] lays out, in characters: below this a name and its
/// amount no longer share a line.
pub const RECEIPT_COLUMNS_MIN: usize = 24;
/// Widest line [`receipt_escpos`] lays out, in characters (Font B on 80 mm is 64).
pub const RECEIPT_COLUMNS_MAX: usize = 64;

/// Lines fed after the text before the cut: the cutter sits about this far above the
/// print head on common 58/80 mm printers, so the last line is not cut through.
pub const FEED_LINES_BEFORE_CUT: u8 = 4;

/// What differs between thermal printers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterProfile {
    /// Characters on a line in Font A; kept within [`RECEIPT_COLUMNS_MIN`] and
    /// [`RECEIPT_COLUMNS_MAX`].
    pub columns: usize,
    /// The `ESC t` number of the PC866 code page in this printer's table
    /// ([`CODE_PAGE_PC866_EPSON`] unless its manual says otherwise).
    pub code_page: u8,
    /// Send `FS .` (cancel Chinese character mode) before selecting the code page: needed by
    /// Chinese firmwares that start in double-byte mode, ignored by Epson.
    pub cancel_chinese_mode: bool,
    /// Lines fed before the cut.
    pub feed_lines_before_cut: u8,
    /// Whether the printer has a cutter (`GS V 66 0`, partial cut).
    pub cut: bool,
}

impl PrinterProfile {
    /// An Epson-compatible printer for `paper`, with a cutter.
    pub fn for_paper(paper: PaperWidth) -> PrinterProfile {
        PrinterProfile {
            columns: paper.columns(),
            code_page: CODE_PAGE_PC866_EPSON,
            cancel_chinese_mode: true,
            feed_lines_before_cut: FEED_LINES_BEFORE_CUT,
            cut: true,
        }
    }
}

/// How a block's text is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Normal,
    Bold,
    /// Bold and double height: the total.
    Large,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
}

/// A piece of the receipt, laid out by each renderer for its width.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    /// Text wrapped at spaces.
    Text {
        text: String,
        align: Align,
        style: Style,
    },
    /// `left` wrapped on the left, `right` on the right of its last line (or of a line of
    /// its own when both do not fit).
    Columns {
        left: String,
        right: String,
        style: Style,
    },
    /// A rule across the line.
    Rule,
}

fn text(text: impl Into<String>, align: Align, style: Style) -> Block {
    Block::Text {
        text: text.into(),
        align,
        style,
    }
}

fn columns(left: impl Into<String>, right: impl Into<String>, style: Style) -> Block {
    Block::Columns {
        left: left.into(),
        right: right.into(),
        style,
    }
}

/// The receipt's content, top to bottom.
fn blocks(receipt: &Receipt) -> Vec<Block> {
    let mut blocks = vec![
        text(&receipt.school, Align::Center, Style::Bold),
        text(&receipt.till, Align::Center, Style::Normal),
        columns(
            format!("Чек № {}", receipt.number),
            receipt.issued_at.format("%d.%m.%Y %H:%M").to_string(),
            Style::Normal,
        ),
        text(
            format!("Кассир: {}", receipt.cashier),
            Align::Left,
            Style::Normal,
        ),
        Block::Rule,
        text(
            format!("Ученик: {}", receipt.pupil),
            Align::Left,
            Style::Normal,
        ),
        text(
            format!("Класс: {}", receipt.class),
            Align::Left,
            Style::Normal,
        ),
        Block::Rule,
    ];
    for line in &receipt.lines {
        blocks.push(text(&line.name, Align::Left, Style::Normal));
        blocks.push(columns(
            format!(
                "  {} × {}",
                line.quantity,
                format_rubles_grouped(line.unit_price_kopecks, DecimalSeparator::Comma)
            ),
            format_rubles_with_sign(line.sum_kopecks()),
            Style::Normal,
        ));
    }
    if !receipt.free_meals.is_empty() {
        if !receipt.lines.is_empty() {
            blocks.push(Block::Rule);
        }
        blocks.push(text("Бесплатное питание", Align::Left, Style::Bold));
        for meal in &receipt.free_meals {
            blocks.push(columns(&meal.complex, "бесплатно", Style::Normal));
            blocks.push(text(
                format!("  за счёт: {}", meal.source.label()),
                Align::Left,
                Style::Normal,
            ));
        }
    }
    blocks.extend([
        Block::Rule,
        columns(
            "ИТОГО",
            format_rubles_with_sign(receipt.total_kopecks()),
            Style::Large,
        ),
        columns(
            "Оплачено с баланса",
            format_rubles_with_sign(receipt.paid_from_balance_kopecks),
            Style::Normal,
        ),
        columns(
            "Остаток на балансе",
            format_rubles_with_sign(receipt.balance_after_kopecks),
            Style::Bold,
        ),
    ]);
    blocks
}

/// ESC/POS command bytes.
mod escpos {
    pub(super) const ESC: u8 = 0x1b;
    pub(super) const GS: u8 = 0x1d;
    pub(super) const FS: u8 = 0x1c;
    pub(super) const LF: u8 = b'\n';
    /// `ESC @`: initialise (clears styles, alignment, code page).
    pub(super) const INIT: [u8; 2] = [ESC, b'@'];
    /// `FS .`: cancel Chinese (double-byte) character mode.
    pub(super) const CANCEL_CHINESE: [u8; 2] = [FS, b'.'];
    /// `ESC M 0`: Font A.
    pub(super) const FONT_A: [u8; 3] = [ESC, b'M', 0];

    pub(super) fn code_page(n: u8) -> [u8; 3] {
        [ESC, b't', n]
    }

    /// `ESC a n`: 0 left, 1 centre, 2 right.
    pub(super) fn align(n: u8) -> [u8; 3] {
        [ESC, b'a', n]
    }

    /// `ESC E n`: bold on (1) or off (0).
    pub(super) fn bold(on: bool) -> [u8; 3] {
        [ESC, b'E', u8::from(on)]
    }

    /// `GS ! n`: character size; `0x01` doubles the height, `0x00` is normal.
    pub(super) fn size(double_height: bool) -> [u8; 3] {
        [GS, b'!', u8::from(double_height)]
    }

    /// `ESC d n`: print and feed n lines.
    pub(super) fn feed(lines: u8) -> [u8; 3] {
        [ESC, b'd', lines]
    }

    /// `GS V 66 0`: feed to the cutter and cut, leaving a bridge (partial cut).
    pub(super) const PARTIAL_CUT: [u8; 4] = [GS, b'V', 66, 0];
}

/// Text as CP866 can print it: characters it lacks replaced by the nearest it has (the
/// ruble sign by «руб.», guillemets and curly quotes by `"`, dashes and the minus by `-`,
/// the ellipsis by `...`, `×` by `x`), control characters by spaces, anything else by `?`.
/// The result's characters each take one column.
pub fn to_cp866_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '₽' => out.push_str("руб."),
            '«' | '»' | '„' | '“' | '”' => out.push('"'),
            '‘' | '’' => out.push('\''),
            '—' | '–' | '−' | '‑' => out.push('-'),
            '…' => out.push_str("..."),
            '×' => out.push('x'),
            c if c.is_control() => out.push(' '),
            c if cp866_byte(c).is_some() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The CP866 byte of a character, if the code page has it.
fn cp866_byte(c: char) -> Option<u8> {
    let mut buffer = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::IBM866.encode(c.encode_utf8(&mut buffer));
    match (unmappable, bytes.as_ref()) {
        (false, [byte]) => Some(*byte),
        _ => None,
    }
}

/// The receipt as ESC/POS bytes for a thermal printer: initialise, select PC866, print,
/// feed and cut. Every line fits `profile.columns` characters.
pub fn receipt_escpos(receipt: &Receipt, profile: &PrinterProfile) -> Vec<u8> {
    let width = profile
        .columns
        .clamp(RECEIPT_COLUMNS_MIN, RECEIPT_COLUMNS_MAX);
    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(&escpos::INIT);
    if profile.cancel_chinese_mode {
        out.extend_from_slice(&escpos::CANCEL_CHINESE);
    }
    out.extend_from_slice(&escpos::code_page(profile.code_page));
    out.extend_from_slice(&escpos::FONT_A);
    for block in blocks(receipt) {
        let (lines, align, style) = match block {
            Block::Text { text, align, style } => {
                (wrap_columns(&to_cp866_text(&text), width), align, style)
            }
            Block::Columns { left, right, style } => (
                columns_lines(&to_cp866_text(&left), &to_cp866_text(&right), width),
                Align::Left,
                style,
            ),
            Block::Rule => (vec!["-".repeat(width)], Align::Left, Style::Normal),
        };
        out.extend_from_slice(&escpos::align(match align {
            Align::Left => 0,
            Align::Center => 1,
        }));
        out.extend_from_slice(&escpos::bold(style != Style::Normal));
        out.extend_from_slice(&escpos::size(style == Style::Large));
        for line in lines {
            out.extend(line.chars().map(|c| match c {
                // A no-break space keeps amounts whole in layout; on paper it is a space.
                THOUSANDS_SEPARATOR => b' ',
                c => cp866_byte(c).unwrap_or(b'?'),
            }));
            out.push(escpos::LF);
        }
    }
    out.extend_from_slice(&escpos::bold(false));
    out.extend_from_slice(&escpos::size(false));
    out.extend_from_slice(&escpos::align(0));
    out.extend_from_slice(&escpos::feed(profile.feed_lines_before_cut));
    if profile.cut {
        out.extend_from_slice(&escpos::PARTIAL_CUT);
    }
    out
}

/// The spaces a text starts with (its indent) and the rest.
fn split_indent(text: &str) -> (usize, &str) {
    let rest = text.trim_start_matches(' ');
    (text.len() - rest.len(), rest)
}

/// Words of `text` in lines of at most `width` characters, broken at spaces (not at the
/// no-break space inside amounts); a word longer than a line is cut. Leading spaces indent
/// every line. Never empty.
fn wrap_columns(text: &str, width: usize) -> Vec<String> {
    let (indent, text) = split_indent(text);
    // An indent never takes more than half the line.
    let indent = indent.min(width / 2);
    let width = width - indent;
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(line_len > 0);
            if line_len + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                line_len += gap + word.len();
                break;
            }
            if line_len > 0 {
                lines.push(std::mem::take(&mut line));
                line_len = 0;
                continue;
            }
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if line_len > 0 || lines.is_empty() {
        lines.push(line);
    }
    let pad = " ".repeat(indent);
    lines
        .into_iter()
        .map(|line| format!("{pad}{line}"))
        .collect()
}

/// `left` wrapped, with `right` at the end of its last line when both fit with a space
/// between, else on a line of its own, right-aligned.
fn columns_lines(left: &str, right: &str, width: usize) -> Vec<String> {
    let right_len = right.chars().count();
    if right_len + 1 >= width {
        let mut lines = wrap_columns(left, width);
        lines.extend(wrap_columns(right, width));
        return lines;
    }
    let mut lines = wrap_columns(left, width - right_len - 1);
    let last = lines.pop().unwrap_or_default();
    let pad = width - right_len - last.chars().count();
    lines.push(format!("{last}{}{right}", " ".repeat(pad)));
    lines
}

/// Left and right margins of a thermal printer's roll: what it does not print.
fn side_margin_pt(paper: PaperWidth) -> f32 {
    mm_to_pt((paper.paper_mm() - paper.printed_mm()) / 2.0)
}

fn mm_to_pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// Top and bottom margin of the PDF page.
const RECEIPT_MARGIN_Y_PT: f32 = 12.0;
/// Space above and below a rule.
const RULE_GAP_PT: f32 = 3.0;
/// Lines one block may wrap to on the PDF page (a product name is at most a few lines).
const MAX_BLOCK_LINES: usize = 8;

/// Font sizes on the PDF receipt by paper: body and the large total.
fn sizes_pt(paper: PaperWidth) -> (f32, f32) {
    match paper {
        PaperWidth::Mm58 => (7.5, 11.0),
        PaperWidth::Mm80 => (9.0, 13.0),
    }
}

/// The receipt as a one-page PDF as wide as the roll and as long as the receipt, for a
/// till without a thermal printer (or to keep a copy).
pub fn receipt_pdf(receipt: &Receipt, paper: PaperWidth) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::load()?;
    let margin_x = side_margin_pt(paper);
    let width_pt = mm_to_pt(paper.paper_mm());
    let inner = width_pt - 2.0 * margin_x;
    let (body_pt, large_pt) = sizes_pt(paper);
    let mut marks = Vec::new();
    let mut y = RECEIPT_MARGIN_Y_PT;
    let put = |marks: &mut Vec<Mark>, weight: Weight, size: f32, x: f32, top: f32, line| {
        let (ascender, _, _) = fonts.get(weight).vertical_metrics();
        marks.push(Mark::Text {
            weight,
            size_pt: size,
            x_pt: x,
            baseline_pt: top + ascender * size / 1000.0,
            gray: 0.0,
            text: line,
        });
    };
    for block in blocks(receipt) {
        match block {
            Block::Rule => {
                y += RULE_GAP_PT;
                marks.push(Mark::Rule {
                    x_pt: margin_x,
                    y_pt: y,
                    width_pt: inner,
                    thickness_pt: 0.5,
                    gray: 0.0,
                });
                y += RULE_GAP_PT;
            }
            Block::Text { text, align, style } => {
                let (weight, size) = weight_size(style, body_pt, large_pt);
                let font = fonts.get(weight);
                let (indent, text) = split_indent(&text);
                let indent_pt = indent as f32 * font.char_width_pt(' ', size);
                for line in wrap(font, size, text, inner - indent_pt, MAX_BLOCK_LINES) {
                    let x = match align {
                        Align::Left => margin_x + indent_pt,
                        Align::Center => margin_x + (inner - font.width_pt(&line, size)) / 2.0,
                    };
                    put(&mut marks, weight, size, x, y, line);
                    y += line_height_pt(size);
                }
            }
            Block::Columns { left, right, style } => {
                let (weight, size) = weight_size(style, body_pt, large_pt);
                let font = fonts.get(weight);
                let right = ellipsize(font, size, &right, inner);
                let right_width = font.width_pt(&right, size);
                let gap = font.char_width_pt(' ', size);
                let (indent, left) = split_indent(&left);
                let indent_pt = indent as f32 * gap;
                let left_x = margin_x + indent_pt;
                let left_width = inner - indent_pt - right_width - gap;
                let mut lines = if left_width > gap {
                    wrap(font, size, left, left_width, MAX_BLOCK_LINES)
                } else {
                    let mut lines = wrap(font, size, left, inner - indent_pt, MAX_BLOCK_LINES);
                    lines.push(String::new());
                    lines
                };
                let last = lines.pop().unwrap_or_default();
                for line in lines {
                    put(&mut marks, weight, size, left_x, y, line);
                    y += line_height_pt(size);
                }
                if !last.is_empty() {
                    put(&mut marks, weight, size, left_x, y, printable(&last));
                }
                put(
                    &mut marks,
                    weight,
                    size,
                    margin_x + inner - right_width,
                    y,
                    right,
                );
                y += line_height_pt(size);
            }
        }
    }
    let info = PdfInfo {
        title: &format!("Чек № {}", receipt.number),
        author: Some(&receipt.school),
        created: Some(receipt.issued_at),
    };
    let page_size = PageSize {
        width_pt,
        height_pt: y + RECEIPT_MARGIN_Y_PT,
    };
    write_pdf(&info, &fonts, page_size, &[marks])
}

fn weight_size(style: Style, body_pt: f32, large_pt: f32) -> (Weight, f32) {
    match style {
        Style::Normal => (Weight::Regular, body_pt),
        Style::Bold => (Weight::Bold, body_pt),
        Style::Large => (Weight::Bold, large_pt),
    }
}
