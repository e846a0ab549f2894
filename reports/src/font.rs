//! The fonts embedded in every PDF: DejaVu Sans Condensed, book and bold (full Cyrillic,
//! the ruble sign ₽, narrow enough for tables). Licence: `fonts/LICENSE.txt` (Bitstream
//! Vera licence; DejaVu changes are public domain).
//!
//! Text is laid out glyph by glyph through the font's `cmap`, without shaping: Russian and
//! Latin need neither ligatures nor reordering, and kerning is not worth a shaper here.

use ttf_parser::{Face, GlyphId};

/// DejaVu Sans Condensed (book), unchanged from upstream 2.37.
const REGULAR_TTF: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
/// DejaVu Sans Condensed Bold, unchanged from upstream 2.37.
const BOLD_TTF: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// The horizontal ellipsis drawn where text is cut.
pub(crate) const ELLIPSIS: char = '…';

/// Which of the two faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

impl Weight {
    pub(crate) const ALL: [Weight; 2] = [Weight::Regular, Weight::Bold];
}

/// A parsed face with the metrics layout needs, in PDF text-space units (1/1000 em).
pub(crate) struct FontFace {
    pub(crate) weight: Weight,
    pub(crate) data: &'static [u8],
    face: Face<'static>,
    units_per_em: f32,
}

/// The embedded font bytes did not parse; a defect of the build, caught by a test.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the embedded {0:?} font does not parse")]
pub(crate) struct FontParseError(Weight);

impl FontFace {
    /// Parses the embedded face (cheap: ttf-parser reads tables lazily).
    pub(crate) fn load(weight: Weight) -> Result<FontFace, FontParseError> {
        let data = match weight {
            Weight::Regular => REGULAR_TTF,
            Weight::Bold => BOLD_TTF,
        };
        let face = Face::parse(data, 0).map_err(|_| FontParseError(weight))?;
        let units_per_em = f32::from(face.units_per_em());
        Ok(FontFace {
            weight,
            data,
            face,
            units_per_em,
        })
    }

    /// The PostScript name, as PDF's `/BaseFont` wants it.
    pub(crate) fn postscript_name(&self) -> &'static str {
        match self.weight {
            Weight::Regular => "DejaVuSansCondensed",
            Weight::Bold => "DejaVuSansCondensed-Bold",
        }
    }

    /// The glyph for a character; `.notdef` (0) when the font has none.
    pub(crate) fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    /// A glyph's advance in 1/1000 em.
    pub(crate) fn advance_milli_em(&self, glyph: u16) -> f32 {
        let advance = self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0);
        self.to_milli_em(advance)
    }

    /// The width of `text` at `size_pt`, in points.
    pub(crate) fn width_pt(&self, text: &str, size_pt: f32) -> f32 {
        text.chars().map(|c| self.char_width_pt(c, size_pt)).sum()
    }

    /// The width of one character at `size_pt`, in points.
    pub(crate) fn char_width_pt(&self, c: char, size_pt: f32) -> f32 {
        self.advance_milli_em(self.glyph(c)) * size_pt / 1000.0
    }

    /// Ascender, descender (negative), cap height, in 1/1000 em.
    pub(crate) fn vertical_metrics(&self) -> (f32, f32, f32) {
        let ascender = self.to_milli_em_signed(self.face.ascender());
        let descender = self.to_milli_em_signed(self.face.descender());
        let cap_height = self
            .face
            .capital_height()
            .map_or(ascender * 0.7, |h| self.to_milli_em_signed(h));
        (ascender, descender, cap_height)
    }

    /// The font's bounding box (x_min, y_min, x_max, y_max), in 1/1000 em.
    pub(crate) fn bounding_box(&self) -> [f32; 4] {
        let bbox = self.face.global_bounding_box();
        [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max].map(|v| self.to_milli_em_signed(v))
    }

    fn to_milli_em(&self, units: u16) -> f32 {
        f32::from(units) * 1000.0 / self.units_per_em
    }

    fn to_milli_em_signed(&self, units: i16) -> f32 {
        f32::from(units) * 1000.0 / self.units_per_em
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_fonts_cover_russian_text() {
        let text = "Список находящихся в здании: Ёлкина Софья Андреевна, ёж, № 5А — 1 234,56 ₽ …";
        for weight in Weight::ALL {
            let font = FontFace::load(weight).expect("embedded font parses");
            let missing: Vec<char> = text.chars().filter(|&c| font.glyph(c) == 0).collect();
            assert_eq!(missing, Vec::<char>::new(), "{weight:?}");
            assert!(font.width_pt("Ёлкина", 10.0) > 20.0);
        }
    }
}
