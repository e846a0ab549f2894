use super::*;
use proptest::prelude::*;

/// What the decoder yields for one frame or error.
type Decoded = Result<Frame, FrameError>;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).expect("test hex is valid"))
        .collect()
}

fn command(addr: u8, sqn: u8, code: u8, data: &[u8]) -> Frame {
    Frame {
        addr,
        reply: false,
        sqn,
        use_crc: true,
        scb: None,
        code,
        data: data.to_vec(),
        mac: None,
    }
}

fn poll_101() -> Frame {
    command(101, 0, 0x60, &[])
}

fn out_pulse_relay0() -> Frame {
    command(101, 3, 0x68, &[0x00, 0x05, 0x1e, 0x00])
}

fn raw_card_reply() -> Frame {
    Frame {
        reply: true,
        ..command(
            101,
            2,
            0x50,
            &[0x00, 0x01, 0x1a, 0x00, 0x01, 0x02, 0x03, 0x0c],
        )
    }
}

fn chlng() -> Frame {
    Frame {
        scb: Some(vec![0x03, 0x11, 0x01]),
        ..command(101, 1, 0x76, &[1, 2, 3, 4, 5, 6, 7, 8])
    }
}

fn mac_only() -> Frame {
    Frame {
        scb: Some(vec![0x02, 0x15]),
        mac: Some([0xde, 0xad, 0xbe, 0xef]),
        ..command(101, 2, 0x60, &[])
    }
}

#[test]
fn crc_check_value() {
    assert_eq!(crc16(b"123456789"), 0xE5CC);
    assert_eq!(checksum(&[]), 0);
    assert_eq!(checksum(&[0x53, 0x65, 0x07, 0x00, 0x00, 0x60]), 0xE1);
}

/// The vectors from HARDWARE.md and a few more, both ways.
#[test]
fn known_frames() {
    let cases: &[(Frame, &str)] = &[
        (poll_101(), "53 65 08 00 04 60 60 90"),
        (out_pulse_relay0(), "53 65 0c 00 07 68 00 05 1e 00 d8 55"),
        (
            raw_card_reply(),
            "53 e5 10 00 06 50 00 01 1a 00 01 02 03 0c 13 68",
        ),
        (
            Frame {
                use_crc: false,
                ..poll_101()
            },
            "53 65 07 00 00 60 e1",
        ),
    ];
    for (frame, wire) in cases {
        let wire = hex(wire);
        assert_eq!(frame.encode().as_ref(), Ok(&wire), "{frame:?}");
        assert_eq!(FrameDecoder::new().push(&wire), vec![Ok(frame.clone())]);
    }
}

#[test]
fn encode_rejects_what_cannot_go_on_the_line() {
    let cases: &[(Frame, EncodeError)] = &[
        (
            Frame {
                addr: 0x80,
                ..poll_101()
            },
            EncodeError::Address { addr: 0x80 },
        ),
        (
            Frame {
                sqn: 4,
                ..poll_101()
            },
            EncodeError::Sequence { sqn: 4 },
        ),
        (
            Frame {
                scb: Some(vec![]),
                ..poll_101()
            },
            EncodeError::SecurityBlock,
        ),
        (
            Frame {
                scb: Some(vec![0x02]),
                ..poll_101()
            },
            EncodeError::SecurityBlock,
        ),
        (
            Frame {
                scb: Some(vec![0x04, 0x11, 0x01]),
                ..poll_101()
            },
            EncodeError::SecurityBlock,
        ),
        (
            Frame {
                mac: Some([0; 4]),
                ..poll_101()
            },
            EncodeError::Mac,
        ),
        (
            Frame {
                mac: None,
                ..mac_only()
            },
            EncodeError::Mac,
        ),
        (
            Frame {
                mac: Some([0; 4]),
                ..chlng()
            },
            EncodeError::Mac,
        ),
        (
            command(1, 1, 0x69, &[0; FRAME_LEN_MAX_BYTES - 7]),
            EncodeError::TooLong {
                len_bytes: FRAME_LEN_MAX_BYTES + 1,
                max_bytes: FRAME_LEN_MAX_BYTES,
            },
        ),
    ];
    for (frame, error) in cases {
        assert_eq!(frame.encode(), Err(error.clone()), "{frame:?}");
    }
    assert!(command(1, 1, 0x69, &[0; FRAME_LEN_MAX_BYTES - 8])
        .encode()
        .is_ok());
}

/// Streams as a line delivers them, and what the decoder makes of each.
#[test]
fn streams() {
    let poll = hex("53 65 08 00 04 60 60 90");
    let out = hex("53 65 0c 00 07 68 00 05 1e 00 d8 55");
    let mut bad_crc = poll.clone();
    bad_crc[7] ^= 0x01;
    let mut bad_checksum = hex("53 65 07 00 00 60 e1");
    bad_checksum[6] = 0xe2;
    let oversize_len = (FRAME_LEN_MAX_BYTES + 1) as u16;
    let [over_lo, over_hi] = oversize_len.to_le_bytes();
    // An SCB whose length byte runs over the code.
    let bad_scb = Frame {
        scb: Some(vec![0x02, 0x11]),
        ..poll_101()
    }
    .encode()
    .map(|mut bytes| {
        bytes[5] = 0x03;
        let crc = crc16(&bytes[..bytes.len() - 2]).to_le_bytes();
        let len = bytes.len();
        bytes[len - 2..].copy_from_slice(&crc);
        bytes
    })
    .expect("valid frame");
    // A MAC-type SCB in a frame with no room for the MAC.
    let no_room_for_mac = {
        let mut bytes = vec![0x53, 0x65, 0x0a, 0x00, 0x0c, 0x02, 0x15, 0x60];
        let crc = crc16(&bytes).to_le_bytes();
        bytes.extend_from_slice(&crc);
        bytes
    };

    let cases: Vec<(&str, Vec<u8>, Vec<Decoded>)> = vec![
        ("nothing", vec![], vec![]),
        ("marks only", vec![0xff; 5], vec![]),
        (
            "mark then frame",
            [&[0xff][..], &poll].concat(),
            vec![Ok(poll_101())],
        ),
        (
            "noise then frame",
            [&[0x00, 0x12, 0xff, 0x34][..], &poll].concat(),
            vec![Err(FrameError::Noise { len_bytes: 3 }), Ok(poll_101())],
        ),
        (
            "two frames back to back",
            [&poll[..], &out].concat(),
            vec![Ok(poll_101()), Ok(out_pulse_relay0())],
        ),
        ("half a frame", poll[..5].to_vec(), vec![]),
        (
            "bad CRC, then a good frame",
            [&bad_crc[..], &out].concat(),
            vec![
                Err(FrameError::Crc {
                    computed: 0x9060,
                    received: 0x9160,
                }),
                Err(FrameError::Noise { len_bytes: 7 }),
                Ok(out_pulse_relay0()),
            ],
        ),
        (
            "bad checksum",
            bad_checksum,
            vec![Err(FrameError::Checksum {
                computed: 0xe1,
                received: 0xe2,
            })],
        ),
        (
            "length below the minimum, resynchronised on the next SOM",
            [&[0x53, 0x65, 0x03, 0x00, 0x04][..], &poll].concat(),
            vec![
                Err(FrameError::Length { len_bytes: 3 }),
                Err(FrameError::Noise { len_bytes: 4 }),
                Ok(poll_101()),
            ],
        ),
        (
            "length too small for a CRC and SCB",
            vec![0x53, 0x65, 0x08, 0x00, 0x0c],
            vec![Err(FrameError::Length { len_bytes: 8 })],
        ),
        (
            "oversize frame",
            [&[0x53, 0x65, over_lo, over_hi, 0x04][..], &poll].concat(),
            vec![
                Err(FrameError::Length {
                    len_bytes: oversize_len,
                }),
                Err(FrameError::Noise { len_bytes: 4 }),
                Ok(poll_101()),
            ],
        ),
        (
            "frame hidden behind a truncated one",
            [&poll[..4], &poll].concat(),
            vec![
                // The second SOM lands in CTRL: 0x53 asks for a checksum trailer.
                Err(FrameError::Checksum {
                    computed: checksum(&[0x53, 0x65, 0x08, 0x00, 0x53, 0x65, 0x08]),
                    received: 0x00,
                }),
                Err(FrameError::Noise { len_bytes: 3 }),
                Ok(poll_101()),
            ],
        ),
        (
            "SCB longer than the frame allows",
            bad_scb,
            vec![Err(FrameError::SecurityBlock)],
        ),
        (
            "MAC-type SCB without room for the MAC",
            no_room_for_mac,
            vec![Err(FrameError::SecurityBlock)],
        ),
        (
            "secure channel frames",
            [
                chlng().encode().expect("valid"),
                mac_only().encode().expect("valid"),
            ]
            .concat(),
            vec![Ok(chlng()), Ok(mac_only())],
        ),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(FrameDecoder::new().push(&bytes), expected, "{name}");
    }
}

fn any_frame() -> impl Strategy<Value = Frame> {
    let security = prop_oneof![
        Just((None, None)),
        (0x11u8..=0x14, prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(kind, data)| {
            let mut scb = vec![(data.len() + 2) as u8, kind];
            scb.extend(data);
            (Some(scb), None)
        }),
        (0x15u8..=0x18, any::<[u8; 4]>())
            .prop_map(|(kind, mac)| { (Some(vec![0x03, kind, 0x01]), Some(mac)) }),
    ];
    (
        0u8..=0x7f,
        any::<bool>(),
        0u8..=3,
        any::<bool>(),
        security,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(
            |(addr, reply, sqn, use_crc, (scb, mac), code, data)| Frame {
                addr,
                reply,
                sqn,
                use_crc,
                scb,
                code,
                data,
                mac,
            },
        )
}

/// Cuts `bytes` at the given points (taken modulo its length).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.windows(2)
        .map(|pair| bytes[pair[0]..pair[1]].to_vec())
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(
        prop::collection::vec(any::<u8>(), 0..1500), 0..6,
    )) {
        let mut decoder = FrameDecoder::new();
        for chunk in &chunks {
            let results = decoder.push(chunk);
            prop_assert!(results.len() <= chunk.len());
            prop_assert!(decoder.pending_len_bytes() < FRAME_LEN_MAX_BYTES);
            for frame in results.into_iter().flatten() {
                prop_assert!(frame.addr <= 0x7f && frame.sqn <= 3);
            }
        }
    }

    #[test]
    fn frames_round_trip(frames in prop::collection::vec(any_frame(), 1..4), marks in any::<bool>()) {
        let mut stream = Vec::new();
        for frame in &frames {
            if marks {
                stream.push(MARK);
            }
            stream.extend(frame.encode().expect("generated frames are valid"));
        }
        let decoded = FrameDecoder::new().push(&stream);
        let expected: Vec<Decoded> = frames.into_iter().map(Ok).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn chunking_does_not_matter(
        frames in prop::collection::vec(any_frame(), 0..3),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut stream = noise;
        for frame in &frames {
            stream.extend(frame.encode().expect("generated frames are valid"));
        }
        let whole = FrameDecoder::new().push(&stream);
        let mut decoder = FrameDecoder::new();
        let pieces: Vec<_> = split(&stream, &cuts)
            .iter()
            .flat_map(|chunk| decoder.push(chunk))
            .collect();
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn corrupted_byte_is_never_a_different_frame(frame in any_frame(), at in any::<usize>(), flip in 1u8..=255) {
        let mut bytes = frame.encode().expect("generated frames are valid");
        let at = at % bytes.len();
        bytes[at] ^= flip;
        for decoded in FrameDecoder::new().push(&bytes).into_iter().flatten() {
            // A CRC catches every 1-byte error; a checksum catches every single-byte change.
            prop_assert!(false, "corrupted frame decoded as {decoded:?}");
        }
    }
}
