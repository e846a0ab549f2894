//! Expected values come from the `osdp` crate 0.3.1 (`SessionKeys::derive`,
//! `client_cryptogram`, `Session::server_cryptogram`/`initial_rmac`, and `secure::seal`
//! for whole frames), run once with the same inputs.

use super::*;
use crate::osdp::frame::FrameDecoder;
use proptest::prelude::*;

fn hex<const N: usize>(text: &str) -> [u8; N] {
    hex_vec(text)
        .try_into()
        .expect("test hex has the right length")
}

fn hex_vec(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).expect("test hex is valid"))
        .collect()
}

const RND_A: [u8; 8] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];
const RND_B: [u8; 8] = [0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7];

/// One base key and what the handshake and a short conversation give with it.
struct Vectors {
    scbk: Key,
    s_enc: &'static str,
    s_mac1: &'static str,
    s_mac2: &'static str,
    client_cryptogram: &'static str,
    server_cryptogram: &'static str,
    rmac_i: &'static str,
    /// Frames in line order: (from the control panel?, code, plain data, protection, wire).
    conversation: &'static [(bool, u8, &'static [u8], Protection, &'static str)],
}

const RAW_123_45678: &[u8] = &[0x00, 0x01, 0x1a, 0x00, 0xbd, 0xd9, 0x37, 0x40];
const LED_16: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const PULSE: &[u8] = &[0x00, 0x05, 0x1e, 0x00];

fn vectors() -> [Vectors; 2] {
    [
        Vectors {
            scbk: SCBK_D,
            s_enc: "aa 6b 7a be 6f 33 4d b9 7d fa dd 34 89 e3 c7 6a",
            s_mac1: "de ff 1e b0 5c c9 40 f1 b9 07 bd 07 83 25 9e 12",
            s_mac2: "4e 39 35 7f bf 0f ca 81 76 d9 e5 71 56 3a 56 a2",
            client_cryptogram: "e0 bb ef 5e 8f 7b 56 2a f7 c0 fe 04 39 da f9 51",
            server_cryptogram: "50 09 a1 bc d7 2e b6 fd bf 6e a0 96 38 67 50 cb",
            rmac_i: "50 08 2a 57 f1 1a ba 6d dc 35 49 fc 9d 91 1c bf",
            conversation: &[
                (
                    true,
                    0x60,
                    &[],
                    Protection::Mac,
                    "53 65 0e 00 0d 02 15 60 a3 bf 8e d8 e8 bf",
                ),
                (
                    false,
                    0x40,
                    &[],
                    Protection::Mac,
                    "53 e5 0e 00 0d 02 16 40 03 c9 83 11 f1 4e",
                ),
                (
                    true,
                    0x68,
                    PULSE,
                    Protection::Encrypted,
                    "53 65 1e 00 0e 02 17 68 0f 35 f4 08 f6 28 fd a8 69 d6 20 25 29 a8 ff 12 \
                     78 eb ca 40 af c7",
                ),
                (
                    false,
                    0x50,
                    RAW_123_45678,
                    Protection::Encrypted,
                    "53 e5 1e 00 0e 02 18 50 66 bc 12 61 f3 52 5d 19 ec 87 01 5e 2e 6c 5d 24 \
                     56 9b bc 0e f2 60",
                ),
                (
                    true,
                    0x69,
                    LED_16,
                    Protection::Encrypted,
                    "53 65 2e 00 0f 02 17 69 40 10 1b 04 12 52 bb 56 62 8f 49 bf e3 11 de 7c \
                     2c 31 31 05 db 47 8d 45 6e 2c de 7c 6a c9 35 fc 95 49 17 11 2f 93",
                ),
            ],
        },
        Vectors {
            scbk: [0x11; 16],
            s_enc: "9e 8f fb 9b 18 9e 54 f4 72 8f ad c9 91 18 c9 66",
            s_mac1: "7e 3d 22 33 92 8f 80 a9 31 ea 0a 3c 20 66 89 de",
            s_mac2: "6e ff 82 9f ec b6 15 e7 80 46 46 ef d3 e0 fe d8",
            client_cryptogram: "e5 2f 83 a3 65 d7 3d bc c7 7b 20 5f 16 37 84 8e",
            server_cryptogram: "27 d0 25 16 df 73 7f 47 9a 79 72 fd be f7 37 f9",
            rmac_i: "f8 30 cf 38 aa 87 36 7a 56 c8 5d 8d 92 f1 8b 17",
            conversation: &[
                (
                    true,
                    0x60,
                    &[],
                    Protection::Mac,
                    "53 65 0e 00 0d 02 15 60 26 0a 72 f2 1e 18",
                ),
                (
                    false,
                    0x40,
                    &[],
                    Protection::Mac,
                    "53 e5 0e 00 0d 02 16 40 0b 58 47 3a a2 cb",
                ),
                (
                    true,
                    0x68,
                    PULSE,
                    Protection::Encrypted,
                    "53 65 1e 00 0e 02 17 68 2d 32 36 fa 3c f8 4b 69 a0 ba 4e c8 21 26 ab f9 \
                     73 24 e5 a9 18 3e",
                ),
                (
                    false,
                    0x50,
                    RAW_123_45678,
                    Protection::Encrypted,
                    "53 e5 1e 00 0e 02 18 50 7e aa 5a 4c 4c 28 98 db f8 5b c6 4e 07 57 12 82 \
                     f3 8e e6 cc ce 8e",
                ),
                (
                    true,
                    0x69,
                    LED_16,
                    Protection::Encrypted,
                    "53 65 2e 00 0f 02 17 69 e2 2c 8c 36 3a be 22 3e 0b db 04 80 1d f7 f0 f3 \
                     a5 71 30 d5 bf ba e0 36 8d 14 03 4c b0 8f f8 46 d9 ce 5c 1c ed f3",
                ),
            ],
        },
    ]
}

fn plain(reply: bool, sqn: u8, code: u8, data: &[u8]) -> Frame {
    Frame {
        addr: 101,
        reply,
        sqn,
        use_crc: true,
        scb: None,
        code,
        data: data.to_vec(),
        mac: None,
    }
}

fn decode_one(wire: &[u8]) -> Frame {
    match FrameDecoder::new().push(wire).as_slice() {
        [Ok(frame)] => frame.clone(),
        other => panic!("expected one frame, got {other:?}"),
    }
}

fn established(scbk: &Key) -> SecureSession {
    let keys = SessionKeys::derive(scbk, &RND_A);
    let handshake = Handshake::start(
        scbk,
        &RND_A,
        &RND_B,
        &keys.client_cryptogram(&RND_A, &RND_B),
    )
    .expect("same key");
    let rmac_i = keys.initial_rmac(&handshake.server_cryptogram());
    handshake.confirm(&rmac_i).expect("same key")
}

#[test]
fn keys_and_cryptograms() {
    for vectors in vectors() {
        let keys = SessionKeys::derive(&vectors.scbk, &RND_A);
        assert_eq!(keys.s_enc, hex(vectors.s_enc));
        assert_eq!(keys.s_mac1, hex(vectors.s_mac1));
        assert_eq!(keys.s_mac2, hex(vectors.s_mac2));
        let client_cryptogram: Block = hex(vectors.client_cryptogram);
        assert_eq!(keys.client_cryptogram(&RND_A, &RND_B), client_cryptogram);
        let handshake = Handshake::start(&vectors.scbk, &RND_A, &RND_B, &client_cryptogram)
            .expect("the vectors' cryptogram is right");
        assert_eq!(
            handshake.server_cryptogram(),
            hex(vectors.server_cryptogram)
        );
        assert!(handshake.confirm(&hex(vectors.rmac_i)).is_ok());
    }
}

/// The control panel seals its commands to the same bytes as the reference and opens the
/// reference's replies, the MAC chain running across both directions.
#[test]
fn conversations() {
    for vectors in vectors() {
        let mut session = established(&vectors.scbk);
        for (sqn, &(from_cp, code, data, protection, wire)) in
            (1u8..).zip(vectors.conversation.iter())
        {
            let sqn = if from_cp { sqn / 2 + 1 } else { sqn / 2 };
            let wire = hex_vec(wire);
            if from_cp {
                let sealed = session
                    .seal(plain(false, sqn, code, data), protection)
                    .expect("valid frame");
                assert_eq!(sealed.encode(), Ok(wire), "{code:#04x}");
            } else {
                assert_eq!(session.open(&decode_one(&wire)), Ok((code, data.to_vec())));
            }
        }
    }
}

#[test]
fn handshake_and_session_failures() {
    let keys = SessionKeys::derive(&SCBK_D, &RND_A);
    let good = keys.client_cryptogram(&RND_A, &RND_B);
    // The PD holds another key.
    assert_eq!(
        Handshake::start(&[0x11; 16], &RND_A, &RND_B, &good).map(|_| ()),
        Err(SecureError::ClientCryptogram)
    );
    let handshake = Handshake::start(&SCBK_D, &RND_A, &RND_B, &good).expect("same key");
    assert_eq!(
        handshake.confirm(&[0; 16]).map(|_| ()),
        Err(SecureError::InitialRMac)
    );

    let [vectors, _] = vectors();
    let poll = hex_vec(vectors.conversation[0].4);
    let ack = decode_one(&hex_vec(vectors.conversation[1].4));
    let mut session = established(&SCBK_D);
    session
        .seal(plain(false, 1, 0x60, &[]), Protection::Encrypted)
        .map(|frame| assert_eq!(frame.encode(), Ok(poll)))
        .expect("valid frame");
    let mut tampered = ack.clone();
    tampered.mac = tampered.mac.map(|mut mac| {
        mac[0] ^= 1;
        mac
    });
    let cases: Vec<(Frame, SecureError)> = vec![
        (tampered, SecureError::Mac),
        (
            Frame {
                reply: false,
                ..ack.clone()
            },
            SecureError::NotSecured,
        ),
        (
            Frame {
                scb: Some(vec![0x02, 0x15]),
                ..ack.clone()
            },
            SecureError::NotSecured,
        ),
        (
            Frame {
                scb: None,
                mac: None,
                ..ack.clone()
            },
            SecureError::NotSecured,
        ),
        (
            Frame {
                data: vec![1],
                ..ack.clone()
            },
            SecureError::Mac,
        ),
    ];
    for (frame, error) in cases {
        assert_eq!(session.open(&frame), Err(error), "{frame:?}");
    }
    // Failures leave the chain where it was: the genuine reply still opens.
    assert_eq!(session.open(&ack), Ok((0x40, vec![])));
    // A frame too long to encode is refused without moving the chain.
    assert!(matches!(
        session.seal(plain(false, 2, 0x69, &[0; 2000]), Protection::Mac),
        Err(SecureError::Encode(_))
    ));
    let out = hex_vec(vectors.conversation[2].4);
    let sealed = session
        .seal(plain(false, 2, 0x68, PULSE), Protection::Encrypted)
        .expect("valid frame");
    assert_eq!(sealed.encode(), Ok(out));
}

#[test]
fn data_padding() {
    let keys = SessionKeys::derive(&SCBK_D, &RND_A);
    let iv = [0x5a; 16];
    // 15 bytes pad to one block, 16 to two.
    assert_eq!(keys.encrypt_data(&iv, &[0; 15]).len(), 16);
    assert_eq!(keys.encrypt_data(&iv, &[0; 16]).len(), 32);
    let malformed: &[&[u8]] = &[&[], &[0; 15], &[0; 17]];
    for data in malformed {
        assert_eq!(keys.decrypt_data(&iv, data), Err(SecureError::Padding));
    }
    // A block that decrypts to all zeros has no padding mark.
    let zeros = keys.encrypt_data(&iv, &[0; 16])[..16].to_vec();
    assert_eq!(keys.decrypt_data(&iv, &zeros), Err(SecureError::Padding));
}

proptest! {
    #[test]
    fn encryption_round_trips(data in prop::collection::vec(any::<u8>(), 0..80), iv in any::<[u8; 16]>()) {
        let keys = SessionKeys::derive(&SCBK_D, &RND_A);
        let sealed = keys.encrypt_data(&iv, &data);
        prop_assert!(sealed.len().is_multiple_of(16) && sealed.len() > data.len());
        prop_assert_eq!(keys.decrypt_data(&iv, &sealed), Ok(data));
    }

    #[test]
    fn arbitrary_ciphertext_never_panics(data in prop::collection::vec(any::<u8>(), 0..80), iv in any::<[u8; 16]>()) {
        let keys = SessionKeys::derive(&SCBK_D, &RND_A);
        let _ = keys.decrypt_data(&iv, &data);
    }

    /// A reply sealed by one end of a session opens at the other, through the wire.
    #[test]
    fn sealed_replies_open(
        code in any::<u8>(),
        data in prop::collection::vec(any::<u8>(), 0..100),
        encrypted in any::<bool>(),
        sqn in 0u8..=3,
    ) {
        let mut pd = established(&SCBK_D);
        let mut cp = pd.clone();
        let protection = if encrypted { Protection::Encrypted } else { Protection::Mac };
        let sealed = pd.seal(plain(true, sqn, code, &data), protection).expect("valid frame");
        let wire = sealed.encode().expect("valid frame");
        prop_assert_eq!(cp.open(&decode_one(&wire)), Ok((code, data)));
    }
}
