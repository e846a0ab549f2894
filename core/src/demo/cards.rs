//! The demo school's card stock, in the formats a Russian school really has (HARDWARE.md):
//! Em-Marine 125 kHz cards bought in numbered boxes, Mifare cards with 4- and 7-byte UIDs,
//! and a few old cards known only by the Wiegand-26 pair printed on them.
//!
//! Every card issued is distinct, and so are the low 24 bits of every card: a card
//! enrolled by its pair, or read by a Wiegand-26 reader, then still finds one holder.

use rand::Rng;
use schoolcard_proto::CardId;
use std::collections::HashSet;

/// How a card was enrolled, which decides its id's length and the text the reader printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardFormat {
    /// 40-bit EM4100, printed by an IronLogic reader as `Em-Marine[5500] 126,58404`.
    EmMarine,
    /// 4-byte Mifare Classic UID, as a PC/SC reader answers it: `BC:D1:42:64`.
    Mifare4,
    /// 7-byte UID (Ultralight, DESFire, Classic EV1); NXP's start with `04`.
    Mifare7,
    /// Only the Wiegand-26 pair is known (typed off the card's print): `126,58404`.
    Wiegand26,
}

impl CardFormat {
    /// The mix of a school that has changed suppliers over the years: half Em-Marine,
    /// a third Mifare Classic, some 7-byte UIDs, a few cards enrolled by their pair.
    pub fn pick(rng: &mut impl Rng) -> CardFormat {
        match rng.gen_range(0..100u8) {
            0..=49 => CardFormat::EmMarine,
            50..=84 => CardFormat::Mifare4,
            85..=94 => CardFormat::Mifare7,
            _ => CardFormat::Wiegand26,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCard {
    pub card: CardId,
    pub format: CardFormat,
    /// What the reader printed when the card was enrolled (the `CardBound` record).
    pub raw: String,
}

/// Em-Marine cards come in boxes of consecutive numbers sharing the printed prefix.
const EM_MARINE_BOX_CARDS: u32 = 100;
/// First bytes of Em-Marine ids seen on Russian cards (`Em-Marine[5500]`, `[0017]`, `[3B00]`).
const EM_MARINE_VENDOR_BYTES: [u8; 5] = [0x00, 0x01, 0x17, 0x3B, 0x55];
/// Draws before giving up on finding an unused id: with ~1,000 cards in 2^24 low-24
/// values a collision is rare, so a handful of redraws is plenty.
const REDRAWS_MAX: u32 = 1_000;

struct EmMarineBox {
    bracket: u16,
    facility: u8,
    next_number: u32,
    left: u32,
}

/// Issues unique cards from a seeded generator.
pub struct CardStock<R: Rng> {
    rng: R,
    issued: HashSet<CardId>,
    low24_issued: HashSet<u32>,
    em_box: Option<EmMarineBox>,
}

impl<R: Rng> CardStock<R> {
    pub fn new(rng: R) -> Self {
        CardStock {
            rng,
            issued: HashSet::new(),
            low24_issued: HashSet::new(),
            em_box: None,
        }
    }

    /// A card of the usual mix.
    pub fn issue_any(&mut self) -> IssuedCard {
        let format = CardFormat::pick(&mut self.rng);
        self.issue(format)
    }

    pub fn issue(&mut self, format: CardFormat) -> IssuedCard {
        for _ in 0..REDRAWS_MAX {
            let candidate = match format {
                CardFormat::EmMarine => self.next_em_marine(),
                CardFormat::Mifare4 => {
                    let uid: [u8; 4] = self.rng.gen();
                    // 0x88 is the cascade tag, never the first byte of a 4-byte UID.
                    if uid[0] == 0x88 {
                        continue;
                    }
                    let raw = hex_bytes(&uid);
                    IssuedCard {
                        card: CardId::from_bytes(&uid).expect("4 bytes"),
                        format,
                        raw,
                    }
                }
                CardFormat::Mifare7 => {
                    let mut uid = [0u8; 7];
                    uid[0] = 0x04; // NXP
                    self.rng.fill(&mut uid[1..]);
                    let raw = hex_bytes(&uid);
                    IssuedCard {
                        card: CardId::from_bytes(&uid).expect("7 bytes"),
                        format,
                        raw,
                    }
                }
                CardFormat::Wiegand26 => {
                    let facility: u8 = self.rng.gen();
                    let number: u16 = self.rng.gen();
                    IssuedCard {
                        card: CardId::wiegand26(facility, number),
                        format,
                        raw: format!("{facility:03},{number:05}"),
                    }
                }
            };
            if !self.issued.contains(&candidate.card)
                && !self.low24_issued.contains(&candidate.card.low24())
            {
                self.issued.insert(candidate.card);
                self.low24_issued.insert(candidate.card.low24());
                return candidate;
            }
        }
        panic!("no unused {format:?} card id after {REDRAWS_MAX} draws: the stock is far too full");
    }

    fn next_em_marine(&mut self) -> IssuedCard {
        let rng = &mut self.rng;
        let em_box = match &mut self.em_box {
            Some(b) if b.left > 0 && b.next_number <= u32::from(u16::MAX) => b,
            slot => slot.insert(EmMarineBox {
                // The printed prefix: a vendor byte and a batch byte.
                bracket: u16::from_be_bytes([
                    EM_MARINE_VENDOR_BYTES[rng.gen_range(0..EM_MARINE_VENDOR_BYTES.len())],
                    rng.gen(),
                ]),
                facility: rng.gen(),
                next_number: rng.gen_range(1_000..60_000),
                left: EM_MARINE_BOX_CARDS,
            }),
        };
        let number = em_box.next_number as u16;
        // Cards of a box are handed out roughly in order; a few are spoilt or kept back.
        em_box.next_number += if rng.gen_bool(0.1) { 2 } else { 1 };
        em_box.left -= 1;
        let (bracket, facility) = (em_box.bracket, em_box.facility);
        IssuedCard {
            card: CardId::em_marine(bracket, facility, number),
            format: CardFormat::EmMarine,
            raw: format!("Em-Marine[{bracket:04X}] {facility:03},{number:05}"),
        }
    }
}

/// `BC:D1:42:64`, as PC/SC tools print a UID.
fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn raw_text_reads_back_as_the_card() {
        let mut stock = CardStock::new(ChaCha8Rng::seed_from_u64(7));
        for format in [
            CardFormat::EmMarine,
            CardFormat::Mifare4,
            CardFormat::Mifare7,
            CardFormat::Wiegand26,
        ] {
            for _ in 0..50 {
                let issued = stock.issue(format);
                let expected_bits = match format {
                    CardFormat::EmMarine => 40,
                    CardFormat::Mifare4 => 32,
                    CardFormat::Mifare7 => 56,
                    CardFormat::Wiegand26 => 24,
                };
                assert_eq!(issued.card.bits(), expected_bits);
                match format {
                    // `Em-Marine[5500] 126,58404`: the bracket is the top 16 bits, the pair the low 24.
                    CardFormat::EmMarine => {
                        let (bracket, pair) = issued
                            .raw
                            .strip_prefix("Em-Marine[")
                            .unwrap()
                            .split_once("] ")
                            .unwrap();
                        let full = (u128::from_str_radix(bracket, 16).unwrap() << 24)
                            | u128::from(pair.parse::<CardId>().unwrap().low24());
                        assert_eq!(full, issued.card.value(), "{}", issued.raw);
                    }
                    _ => assert_eq!(
                        issued.raw.parse::<CardId>().unwrap(),
                        issued.card,
                        "{}",
                        issued.raw
                    ),
                }
            }
        }
    }

    #[test]
    fn a_big_stock_stays_unique_in_full_and_in_its_low_24_bits() {
        let mut stock = CardStock::new(ChaCha8Rng::seed_from_u64(1));
        let cards: Vec<IssuedCard> = (0..3_000).map(|_| stock.issue_any()).collect();
        let full: HashSet<_> = cards.iter().map(|c| c.card).collect();
        let low: HashSet<_> = cards.iter().map(|c| c.card.low24()).collect();
        assert_eq!((full.len(), low.len()), (3_000, 3_000));
    }
}
