//! Stand-in portraits for the demo school: small SVG pictures (≈1.5 KB) of a head and
//! shoulders on a coloured background, with the person's initials, drawn from a few
//! palettes by a per-person random generator. The guard's screen shows them large, so they
//! are vector drawings in a 3:4 passport-photo frame rather than tiny bitmaps.

use super::names::Gender;
use rand::seq::SliceRandom;
use rand::Rng;
use std::fmt::Write;

pub const MIME: &str = "image/svg+xml";

/// Soft backgrounds, top and bottom of a vertical gradient.
const BACKGROUNDS: &[(&str, &str)] = &[
    ("#CFE3F7", "#9EC2E6"),
    ("#D8EED8", "#A9D3AE"),
    ("#F7DCDC", "#E6AFB2"),
    ("#E6DDF3", "#C3B3E0"),
    ("#FCE9CF", "#F0C996"),
    ("#D5EFEC", "#9DD3CC"),
    ("#EDE7DF", "#CFC3B3"),
    ("#DCE4EE", "#B3C1D4"),
];

/// Skin tones and the shade used for the neck.
const SKIN: &[(&str, &str)] = &[
    ("#F6D5BF", "#E3B9A0"),
    ("#F2CBA8", "#DDB08B"),
    ("#EDC19A", "#D5A47C"),
    ("#F8DDCB", "#E6C2AC"),
    ("#E4B48C", "#C9966D"),
];

const HAIR: &[&str] = &[
    "#2B1D14", "#4A3020", "#6B4428", "#8C5A33", "#B58452", "#D3B07A", "#1E1E22", "#7E3B22",
];
const HAIR_GREY: &str = "#A9A9AD";

/// School uniform: navy, graphite, burgundy, bottle green jackets.
const UNIFORM: &[&str] = &["#2F3E66", "#474D57", "#6E2A36", "#2F5446"];
/// Adults wear anything.
const CLOTHES: &[&str] = &[
    "#35507A", "#5A5F6B", "#7A3B4A", "#3D6B5A", "#8A6A3B", "#4E4A7A", "#2F6F8F", "#6B6B6B",
];

/// Who the portrait is of; the drawing varies within these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sitter {
    Pupil,
    Adult,
}

/// Draws the portrait of a person with `initials` (two Cyrillic letters).
pub fn svg(rng: &mut impl Rng, initials: &str, gender: Gender, sitter: Sitter) -> String {
    let (bg_top, bg_bottom) = *BACKGROUNDS.choose(rng).expect("palette is not empty");
    let (skin, skin_shade) = *SKIN.choose(rng).expect("palette is not empty");
    let grey = sitter == Sitter::Adult && rng.gen_bool(0.12);
    let hair = if grey {
        HAIR_GREY
    } else {
        HAIR.choose(rng).expect("palette is not empty")
    };
    let clothes = match sitter {
        Sitter::Pupil => UNIFORM.choose(rng),
        Sitter::Adult => CLOTHES.choose(rng),
    }
    .expect("palette is not empty");
    let glasses = rng.gen_bool(if sitter == Sitter::Adult { 0.25 } else { 0.08 });
    let beard = sitter == Sitter::Adult && gender == Gender::Male && rng.gen_bool(0.15);
    let style = rng.gen_range(0..3u8);
    // A child's shoulders are narrower under a head of the same size.
    let shoulder = if sitter == Sitter::Pupil { 16 } else { 6 };

    let mut s = String::with_capacity(2048);
    s.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 160" width="240" height="320">"#);
    let _ = write!(
        s,
        r#"<defs><linearGradient id="g" x2="0" y2="1"><stop offset="0" stop-color="{bg_top}"/><stop offset="1" stop-color="{bg_bottom}"/></linearGradient></defs><rect width="120" height="160" fill="url(#g)"/>"#
    );
    // Long hair falls behind the shoulders, so it is drawn first.
    if gender == Gender::Female && style != 1 {
        let (len, hem) = if style == 0 { (124, 134) } else { (100, 106) };
        let _ = write!(
            s,
            r#"<path d="M33 70C30 36 44 30 60 30S90 36 87 70L92 {len}Q60 {hem} 28 {len}Z" fill="{hair}"/>"#
        );
    }
    let _ = write!(
        s,
        r#"<path d="M{l} 160C{l} 128 34 112 60 112S{r} 128 {r} 160Z" fill="{clothes}"/>"#,
        l = shoulder,
        r = 120 - shoulder
    );
    let _ = write!(
        s,
        r#"<path d="M52 90h16v22c-5 6-11 6-16 0Z" fill="{skin_shade}"/>"#
    );
    if sitter == Sitter::Pupil {
        // The white shirt collar under the uniform jacket.
        s.push_str(r##"<path d="M46 112l14 16 14-16-7-3-7 9-7-9Z" fill="#FFFFFF"/>"##);
    }
    let _ = write!(
        s,
        r#"<ellipse cx="35" cy="73" rx="4.5" ry="7" fill="{skin}"/><ellipse cx="85" cy="73" rx="4.5" ry="7" fill="{skin}"/><ellipse cx="60" cy="70" rx="25" ry="30" fill="{skin}"/>"#
    );
    let top = match (gender, style) {
        (Gender::Male, 0) => "M35 68C33 40 47 34 61 34S88 42 85 68C83 58 80 53 75 50C65 55 50 55 41 53C38 57 36 62 35 68Z",
        (Gender::Male, 1) => "M34 64C33 40 46 33 60 33S87 40 86 64C82 52 72 47 58 47C49 47 40 52 34 64Z",
        (Gender::Male, _) => "M36 60C36 44 46 38 60 38S84 44 84 60C80 50 71 46 60 46S40 50 36 60Z",
        // Hair drawn back into a bun.
        (Gender::Female, 1) => "M35 74C31 42 45 35 60 35S89 42 85 74C83 62 80 55 76 51C68 54 52 53 44 49C39 56 36 64 35 74Z",
        (Gender::Female, _) => "M35 70C33 40 48 35 60 35S87 40 85 70C81 56 73 48 60 48C51 50 41 56 35 70Z",
    };
    if gender == Gender::Female && style == 1 {
        let _ = write!(s, r#"<circle cx="60" cy="31" r="9" fill="{hair}"/>"#);
    }
    let _ = write!(s, r#"<path d="{top}" fill="{hair}"/>"#);
    let _ = write!(
        s,
        r##"<path d="M45 63q5-3 10 0M65 63q5-3 10 0" stroke="{hair}" stroke-width="2" fill="none" stroke-linecap="round"/><circle cx="50" cy="71" r="2.8" fill="#2A2A2E"/><circle cx="70" cy="71" r="2.8" fill="#2A2A2E"/><path d="M60 74q-3 7 1 8" stroke="{skin_shade}" stroke-width="1.6" fill="none" stroke-linecap="round"/><path d="M52 87q8 6 16 0" stroke="#A4574F" stroke-width="2.2" fill="none" stroke-linecap="round"/>"##
    );
    if sitter == Sitter::Pupil {
        s.push_str(r##"<g fill="#E8867C" fill-opacity=".25"><circle cx="44" cy="81" r="5"/><circle cx="76" cy="81" r="5"/></g>"##);
    }
    if beard {
        let _ = write!(
            s,
            r#"<path d="M37 76C39 100 49 104 60 104S81 100 83 76C79 88 71 93 60 94S41 88 37 76ZM52 84q8-4 16 0q-8 2-16 0Z" fill="{hair}"/>"#
        );
    }
    if glasses {
        s.push_str(
            r##"<g fill="none" stroke="#3A3A40" stroke-width="1.6"><circle cx="50" cy="71" r="7.5"/><circle cx="70" cy="71" r="7.5"/><path d="M57.5 71h5M42.5 70l-7-2M77.5 70l7-2"/></g>"##,
        );
    }
    let _ = write!(
        s,
        r##"<text x="60" y="151" text-anchor="middle" font-family="DejaVu Sans,Arial,sans-serif" font-size="15" font-weight="bold" fill="#FFFFFF" fill-opacity=".9" letter-spacing="1">{initials}</text></svg>"##
    );
    s
}
