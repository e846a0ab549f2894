//! The control panel (CP) of one OSDP line: several PDs, one half-duplex bus, one
//! command in flight at a time.
//!
//! ```text
//! driver ──next_frame(now)──▶ (addr, bytes) ──▶ line
//! driver ◀── PanelEvent ──── on_bytes(now, reply bytes) / on_timeout(now)
//! UI/rules ──output/led/buzzer(name, …)──▶ per-PD bounded queue
//! ```
//!
//! Pure, clock-injected core: no port, no clock, no threads. The caller (the serial
//! driver loop, or a test with a virtual clock) asks [`ControlPanel::next_frame`] what to
//! send, writes it, feeds what comes back to [`ControlPanel::on_bytes`], and calls
//! [`ControlPanel::on_timeout`] once [`ControlPanel::reply_deadline`] has passed without
//! a reply. [`ControlPanel::next_wakeup`] says when there will be something to send.
//!
//! Per PD: offline → ID (SQN 0) → CAP → online, then POLL every [`POLL_INTERVAL_MS`],
//! queued OUT/LED/BUZ first. A reply advances the SQN (0, 1, 2, 3, 1, …); a missing or
//! broken reply leaves the same frame (same bytes, same SQN) to be sent again on the PD's
//! next turn, which asks the PD to repeat its last reply. A PD silent for
//! [`OFFLINE_AFTER_MS`] goes offline and loses its queue; an offline PD gets an ID at
//! SQN 0 [`RETRY_AFTER_MS`] after each unanswered one.
//!
//! Secure Channel: after CAP, a PD with a key ([`PdKey`]) goes through CHLNG → CCRYPT →
//! SCRYPT → RMAC_I ([`Handshake`]); then every command is sealed and every reply opened
//! by its [`SecureSession`]. A resent frame is the same sealed bytes, so a retry does not
//! move the MAC chain. A failed handshake refuses the PD on a `secure_only` line (as does
//! a PD without a key there) and falls back to clear otherwise. RND.A comes from the
//! caller's challenge source: this module has no randomness of its own.
//!
//! Install mode ([`PdKey::Install`]): a new reader knows only the well-known SCBK-D. The
//! panel asks for a session on SCBK-D (key byte 0 in CHLNG's SCB), sends KEYSET with the
//! site key inside it and, on the PD's ACK, reports [`PanelEvent::KeySet`] (the caller
//! stores that this PD now holds the site key), takes the site key as the PD's key and
//! opens a new session with it; only then is the PD online. Nothing but KEYSET ever
//! travels on SCBK-D. A NAK to KEYSET refuses the PD; a KEYSET left unanswered sends the
//! PD back offline, and the next connection finds out which key it holds: its CCRYPT is
//! checked against SCBK-D and then against the site key.
//!
//! ```text
//! ID → CAP → CHLNG(SCBK-D) → SCRYPT → KEYSET(site key) ─ACK─▶ KeySet
//!          → CHLNG(site key) → SCRYPT → online, secure
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use schoolcard_proto::CardId;

use super::card::{CardBitsError, Wiegand34ByteOrder};
use super::frame::{Frame, FrameDecoder, FrameError, ADDR_BROADCAST};
use super::message::{
    BuzzerCommand, Capability, Command, FirmwareVersion, LedCommand, NakReason, OutputCommand,
    RawCard, Reply, ReplyError, KEY_LEN_BYTES,
};
use super::secure::{Handshake, Protection, SecureError, SecureSession, RANDOM_LEN_BYTES, SCBK_D};

/// How often each online PD is polled, in milliseconds: the usual CP default. A card
/// read then reaches us within about 50 ms plus the other PDs' turns.
pub const POLL_INTERVAL_MS: u64 = 50;

/// How long a PD has to answer, in milliseconds: OSDP requires a reply within 200 ms.
pub const REPLY_TIMEOUT_MS: u64 = 200;

/// Silence after which an online PD is declared offline, in milliseconds: the usual CP
/// default. Until then a missing reply is only retried, so a noisy bus does not flap.
pub const OFFLINE_AFTER_MS: u64 = 8_000;

/// Wait between attempts to reach an offline PD, in milliseconds: the usual CP default.
/// Each attempt costs the line up to [`REPLY_TIMEOUT_MS`], so an unplugged reader takes
/// at most a quarter of the bus from the others.
pub const RETRY_AFTER_MS: u64 = 800;

/// Commands waiting per PD. A card tap makes about three (OUT, LED, BUZ) and they drain
/// at one per turn; eight waiting means the PD is not keeping up, and the caller should
/// hear so rather than have a door open seconds late.
pub const COMMAND_QUEUE_LEN_MAX: usize = 8;

/// How commands travel once a session is up: MAC and encrypted data (SCB 17), as
/// libosdp's control panel sends them; a command without data goes MAC only.
pub const COMMAND_PROTECTION: Protection = Protection::Encrypted;

/// SCB of CHLNG without its key byte: length 3, type 11.
const SCB_CHLNG: [u8; 2] = [0x03, 0x11];
/// SCB of SCRYPT without its key byte: length 3, type 13.
const SCB_SCRYPT: [u8; 2] = [0x03, 0x13];
/// Key byte of the handshake's SCBs: the PD's own SCBK.
const SCB_KEY_SCBK: u8 = 0x01;
/// Key byte of the handshake's SCBs: the install-mode key SCBK-D.
const SCB_KEY_SCBK_D: u8 = 0x00;

/// OUT records in one command. A gate sends two to four; 16 records are 64 data bytes,
/// so even a sealed, padded OUT frame stays under 128 bytes, which any PD's receive
/// buffer takes.
pub const OUT_RECORDS_PER_COMMAND_MAX: usize = 16;

/// PDs on one line: every unicast address `0x00..=0x7E`.
pub const PDS_PER_LINE_MAX: usize = ADDR_BROADCAST as usize;

/// How the panel reaches a PD: in clear, with its own Secure Channel base key, or in
/// install mode to give it the site key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PdKey {
    /// No key: the PD is used in clear, and refused on a `secure_only` line.
    Clear,
    /// The PD's own Secure Channel base key (SCBK), given to it earlier by KEYSET.
    Scbk([u8; KEY_LEN_BYTES]),
    /// The PD is in install mode and knows only SCBK-D: give it `site_key` by KEYSET
    /// inside an SCBK-D session, then use it (see the module documentation). Once the PD
    /// has ACKed, the panel reports [`PanelEvent::KeySet`] and uses
    /// [`PdKey::Scbk`]`(site_key)` for it; the caller stores that for the next start.
    Install {
        /// The key the PD is given; SCBK-D itself is refused ([`ConfigError::SiteKey`]).
        site_key: [u8; KEY_LEN_BYTES],
    },
}

impl fmt::Debug for PdKey {
    /// Keys are not printed: configurations end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PdKey::Clear => f.write_str("Clear"),
            PdKey::Scbk(_) => f.write_str("Scbk(…)"),
            PdKey::Install { .. } => f.write_str("Install { site_key: … }"),
        }
    }
}

impl PdKey {
    /// The base keys a CCRYPT is checked against, in order. In install mode: SCBK-D (the
    /// PD is still in install mode), then the site key (it took a KEYSET whose ACK was
    /// lost, so the panel never heard of it).
    fn handshake_keys(&self) -> [Option<[u8; KEY_LEN_BYTES]>; 2] {
        match *self {
            PdKey::Clear => [None, None],
            PdKey::Scbk(scbk) => [Some(scbk), None],
            PdKey::Install { site_key } => [Some(SCBK_D), Some(site_key)],
        }
    }

    /// The key byte of CHLNG's and SCRYPT's SCB: SCBK-D is asked for in install mode.
    fn scb_key_byte(&self) -> u8 {
        match self {
            PdKey::Install { .. } => SCB_KEY_SCBK_D,
            PdKey::Clear | PdKey::Scbk(_) => SCB_KEY_SCBK,
        }
    }
}

/// One PD on the line, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdConfig {
    /// Address, `0x00..=0x7E`.
    pub addr: u8,
    /// The reader's configured name (e.g. `entrance-in`); events carry it.
    pub name: String,
    /// How the Secure Channel is set up with it, if at all.
    pub key: PdKey,
    /// How the PD's Wiegand-34 bits map to a UID.
    pub wiegand34: Wiegand34ByteOrder,
}

/// One line: its PDs and its security policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelConfig {
    /// The PDs, polled round-robin in this order.
    pub pds: Vec<PdConfig>,
    /// The site demands the Secure Channel: a PD that will not do it is refused.
    pub secure_only: bool,
}

/// Why a [`PanelConfig`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No PDs, or more than [`PDS_PER_LINE_MAX`].
    #[error("a line takes 1 to {max} PDs, got {count}")]
    PdCount {
        /// PDs configured.
        count: usize,
        /// [`PDS_PER_LINE_MAX`].
        max: usize,
    },
    /// The address is the broadcast address or above.
    #[error("PD {name}: address {addr:#04x} is outside 0x00..=0x7e")]
    Address {
        /// The PD.
        name: String,
        /// The address given.
        addr: u8,
    },
    /// Two PDs share an address.
    #[error("address {addr:#04x} is configured twice")]
    DuplicateAddress {
        /// The address.
        addr: u8,
    },
    /// Two PDs share a name, or a name is empty.
    #[error("PD name {name:?} is empty or configured twice")]
    Name {
        /// The name.
        name: String,
    },
    /// An install-mode PD would be given SCBK-D as its site key: it would stay on the
    /// well-known key.
    #[error("PD {name}: the site key must not be SCBK-D")]
    SiteKey {
        /// The PD.
        name: String,
    },
}

/// Why a command was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No PD of that name on this line.
    #[error("no PD named {name:?} on this line")]
    UnknownPd {
        /// The name asked for.
        name: String,
    },
    /// The PD is not online: a command queued now could act much later.
    #[error("PD {name} is not online")]
    NotOnline {
        /// The PD.
        name: String,
    },
    /// [`COMMAND_QUEUE_LEN_MAX`] commands are already waiting.
    #[error("PD {name} already has {len_max} commands waiting")]
    QueueFull {
        /// The PD.
        name: String,
        /// [`COMMAND_QUEUE_LEN_MAX`].
        len_max: usize,
    },
    /// An OUT command with no records or more than [`OUT_RECORDS_PER_COMMAND_MAX`].
    #[error("an OUT command takes 1 to {max} records, got {count}")]
    Records {
        /// Records given.
        count: usize,
        /// [`OUT_RECORDS_PER_COMMAND_MAX`].
        max: usize,
    },
}

/// What a PD says about itself in PDID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdId {
    /// IEEE OUI of the vendor, as sent.
    pub vendor: [u8; 3],
    /// Model number.
    pub model: u8,
    /// Model version.
    pub version: u8,
    /// Serial number.
    pub serial: u32,
    /// Firmware version.
    pub firmware: FirmwareVersion,
}

/// Why a PD is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// The line is `secure_only` and this PD has no key configured.
    NoKey,
    /// The PD NAKed CHLNG or SCRYPT: 5, it has no Secure Channel; 6, its conditions are
    /// not met.
    SecureChannelRefused(NakReason),
    /// The handshake failed: the PD holds another key, or its R-MAC is wrong.
    Handshake(SecureError),
    /// In install mode, the PD NAKed KEYSET: it keeps SCBK-D, which is never used for
    /// anything else, so the PD is not used at all (even on a line that allows clear).
    KeySetRefused(NakReason),
}

/// A bus fault, counted and logged; the line carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Bytes that did not make a frame (noise, bad length, bad CRC, …).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame that is not the reply we wait for: a command, another address, another
    /// SQN, or nothing was asked.
    #[error("unexpected frame from address {addr:#04x} (reply {reply}, SQN {sqn})")]
    Unexpected {
        /// Its address, without the reply bit.
        addr: u8,
        /// It had the reply bit.
        reply: bool,
        /// Its SQN.
        sqn: u8,
    },
    /// A secured reply where no session or handshake is under way.
    #[error("secured reply outside a secure session")]
    Secured,
    /// A reply that does not open in the session (not secured, bad MAC, bad padding).
    #[error(transparent)]
    Secure(#[from] SecureError),
    /// A reply whose data does not fit its code.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// KEYSET went unanswered: the PD may or may not hold the site key now. It goes
    /// offline; the next connection's handshake finds out which key it has.
    #[error("KEYSET unanswered")]
    KeySetUnanswered,
    /// A NAK to POLL, ID or CAP.
    #[error("NAK {reason:?} to command {command:#04x}")]
    Nak {
        /// The command code NAKed.
        command: u8,
        /// The PD's reason.
        reason: NakReason,
    },
    /// A reply that makes no sense for the command (e.g. ACK to ID).
    #[error("reply {reply:#04x} to command {command:#04x}")]
    WrongReply {
        /// The command code.
        command: u8,
        /// The reply code.
        reply: u8,
    },
}

/// What happened on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelEvent {
    /// The PD answered ID and CAP and is being polled.
    PdOnline {
        /// The PD.
        name: String,
        /// Its PDID.
        id: PdId,
        /// Its PDCAP records.
        caps: Vec<Capability>,
        /// Commands and replies go through a Secure Channel session.
        secure: bool,
    },
    /// The PD holds the site key of its [`PdKey::Install`] configuration: it ACKed
    /// KEYSET, or (after a KEYSET whose ACK was lost) it answered the handshake with the
    /// site key. From now on the panel uses [`PdKey::Scbk`] with that key for it; the
    /// caller stores the same so that the next start does not ask for install mode.
    KeySet {
        /// The PD.
        name: String,
    },
    /// The PD was silent for [`OFFLINE_AFTER_MS`].
    PdOffline {
        /// The PD.
        name: String,
    },
    /// A card at the PD's reader.
    CardRead {
        /// The PD.
        name: String,
        /// The card, or why its bits are not one (e.g. a parity error: a misread).
        card: Result<CardId, CardBitsError>,
        /// The RAW reply as received.
        raw: RawCard,
    },
    /// The PD reported its inputs (ISTATR in answer to POLL): a PD sends it when an input
    /// changes, e.g. a turnstile's pass contact (see
    /// [`OsdpGate::on_panel_event`](crate::gate::OsdpGate::on_panel_event)).
    InputStatus {
        /// The PD.
        name: String,
        /// Its inputs, from input 0; `true` is active.
        inputs: Vec<bool>,
    },
    /// Keys pressed on the PD's keypad.
    Keypad {
        /// The PD.
        name: String,
        /// Reader number on the PD.
        reader: u8,
        /// The keys: digits, `*` and `#`; `?` for a code outside those.
        digits: String,
    },
    /// The PD ACKed a queued command.
    CommandAcked {
        /// The PD.
        name: String,
        /// The command.
        command: Command,
    },
    /// The PD NAKed a queued command.
    CommandNakked {
        /// The PD.
        name: String,
        /// The command.
        command: Command,
        /// The PD's reason.
        reason: NakReason,
    },
    /// A queued command thrown away because its PD went offline.
    CommandDropped {
        /// The PD.
        name: String,
        /// The command.
        command: Command,
    },
    /// The PD is not used: the site's security policy forbids talking to it as it is.
    Refused {
        /// The PD.
        name: String,
        /// Why.
        reason: RefusalReason,
    },
    /// A bus fault; `name` is the PD whose reply was awaited, if any.
    ProtocolError {
        /// The PD.
        name: Option<String>,
        /// What went wrong.
        error: ProtocolError,
    },
}

/// A PD's link, as the panel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not answering; probed again from this instant (`None`: at once).
    Offline {
        /// When the next ID may go out.
        retry_at: Option<Instant>,
    },
    /// Answering ID, CAP and the Secure Channel handshake; not yet polled.
    Connecting,
    /// Polled.
    Online,
    /// Not used, by policy, until the panel is rebuilt with a new configuration.
    Refused,
}

/// What a sent frame asked, to match its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    Id,
    Cap,
    Chlng([u8; RANDOM_LEN_BYTES]),
    Scrypt([u8; 16]),
    /// KEYSET with the site key, inside an SCBK-D session.
    KeySet([u8; KEY_LEN_BYTES]),
    Poll,
    Queued(Command),
}

impl Asked {
    fn command(&self) -> Command {
        match self {
            Asked::Id => Command::Id,
            Asked::Cap => Command::Cap,
            Asked::Chlng(rnd_a) => Command::Chlng { rnd_a: *rnd_a },
            Asked::Scrypt(server_cryptogram) => Command::Scrypt {
                server_cryptogram: *server_cryptogram,
            },
            Asked::KeySet(scbk) => Command::KeySet { scbk: *scbk },
            Asked::Poll => Command::Poll,
            Asked::Queued(command) => command.clone(),
        }
    }
}

/// The next step of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Id,
    Cap,
    /// CHLNG with this RND.A.
    Chlng([u8; RANDOM_LEN_BYTES]),
    /// SCRYPT, with the handshake kept in [`Pd::handshake`].
    Scrypt,
    /// KEYSET with this site key, in the SCBK-D session of an install.
    KeySet([u8; KEY_LEN_BYTES]),
}

/// What a PD's turn on the line would carry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Turn {
    /// The unanswered frame again, same bytes and SQN.
    Resend,
    /// A new command.
    New(Asked),
}

/// A frame sent and not yet answered: resent as is (same SQN) on the PD's next turn.
#[derive(Debug, Clone)]
struct Sent {
    asked: Asked,
    sqn: u8,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Pd {
    config: PdConfig,
    link: LinkState,
    /// SQN for the next new command.
    next_sqn: u8,
    unanswered: Option<Sent>,
    queue: VecDeque<Command>,
    next_poll_at: Option<Instant>,
    last_reply_at: Option<Instant>,
    /// While connecting: what to send next.
    step: Step,
    id: Option<PdId>,
    caps: Vec<Capability>,
    /// Between CCRYPT and RMAC_I.
    handshake: Option<Handshake>,
    /// The base key of the handshake in progress or of the session: which of
    /// [`PdKey::handshake_keys`] the PD's CCRYPT matched.
    handshake_scbk: Option<[u8; KEY_LEN_BYTES]>,
    session: Option<SecureSession>,
}

impl Pd {
    /// What this PD would send now, if anything.
    fn due(&self, now: Instant) -> Option<Turn> {
        if self.unanswered.is_some() {
            return Some(Turn::Resend);
        }
        let asked = match self.link {
            LinkState::Refused => None,
            LinkState::Offline { retry_at } => {
                retry_at.is_none_or(|at| at <= now).then_some(Asked::Id)
            }
            LinkState::Connecting => Some(match (self.step, &self.handshake) {
                (Step::Id, _) => Asked::Id,
                (Step::Cap, _) => Asked::Cap,
                (Step::Chlng(rnd_a), _) => Asked::Chlng(rnd_a),
                (Step::Scrypt, Some(handshake)) => Asked::Scrypt(handshake.server_cryptogram()),
                // Not reached: `Step::Scrypt` is set with the handshake.
                (Step::Scrypt, None) => Asked::Id,
                (Step::KeySet(site_key), _) => Asked::KeySet(site_key),
            }),
            LinkState::Online => match self.queue.front() {
                Some(command) => Some(Asked::Queued(command.clone())),
                None => self
                    .next_poll_at
                    .is_none_or(|at| at <= now)
                    .then_some(Asked::Poll),
            },
        };
        asked.map(Turn::New)
    }

    /// When [`Pd::due`] will next say something, if it waits for time.
    fn due_at(&self) -> Option<Instant> {
        match self.link {
            LinkState::Offline { retry_at } if self.unanswered.is_none() => retry_at,
            LinkState::Online if self.unanswered.is_none() && self.queue.is_empty() => {
                self.next_poll_at
            }
            _ => None,
        }
    }

    /// Forgets the connection: the next one starts from ID at SQN 0, without a session.
    fn reset(&mut self) {
        self.next_sqn = 0;
        self.step = Step::Id;
        self.id = None;
        self.caps.clear();
        self.handshake = None;
        self.handshake_scbk = None;
        self.session = None;
        self.next_poll_at = None;
    }

    /// Starts polling, now.
    fn come_online(&mut self, now: Instant, events: &mut Vec<PanelEvent>) {
        let Some(id) = self.id else {
            // Not reached: CAP is asked only once the ID is known.
            self.go_offline(now, events);
            return;
        };
        let secure = self.session.is_some();
        tracing::info!(pd = %self.config.name, secure, "OSDP PD online");
        self.link = LinkState::Online;
        self.next_poll_at = Some(now);
        events.push(PanelEvent::PdOnline {
            name: self.config.name.clone(),
            id,
            caps: self.caps.clone(),
            secure,
        });
    }

    /// The Secure Channel did not come up: refused where the site demands it, in clear
    /// otherwise.
    fn secure_channel_failed(
        &mut self,
        secure_only: bool,
        reason: RefusalReason,
        now: Instant,
        events: &mut Vec<PanelEvent>,
    ) {
        self.handshake = None;
        self.handshake_scbk = None;
        if secure_only {
            self.refuse(reason, events);
        } else {
            tracing::warn!(pd = %self.config.name, ?reason, "OSDP Secure Channel failed; using clear");
            self.come_online(now, events);
        }
    }

    /// Not used, by policy: nothing more is sent to it.
    fn refuse(&mut self, reason: RefusalReason, events: &mut Vec<PanelEvent>) {
        tracing::warn!(pd = %self.config.name, ?reason, "OSDP PD refused");
        self.handshake = None;
        self.handshake_scbk = None;
        self.session = None;
        self.link = LinkState::Refused;
        events.push(PanelEvent::Refused {
            name: self.config.name.clone(),
            reason,
        });
    }

    /// The frame for `asked`: plain, handshake SCB, or sealed in the session.
    fn build(&mut self, asked: &Asked) -> Result<Vec<u8>, SecureError> {
        let (code, data) = asked.command().encode();
        let key_byte = self.config.key.scb_key_byte();
        let scb = match asked {
            Asked::Chlng(_) => Some([&SCB_CHLNG[..], &[key_byte]].concat()),
            Asked::Scrypt(_) => Some([&SCB_SCRYPT[..], &[key_byte]].concat()),
            _ => None,
        };
        let frame = Frame {
            addr: self.config.addr,
            reply: false,
            sqn: self.next_sqn,
            use_crc: true,
            scb,
            code,
            data,
            mac: None,
        };
        let frame = match (&mut self.session, asked) {
            (Some(session), Asked::Poll | Asked::Queued(_) | Asked::KeySet(_)) => {
                session.seal(frame, COMMAND_PROTECTION)?
            }
            _ => frame,
        };
        Ok(frame.encode()?)
    }

    /// Back to offline: the sequence restarts at 0, the session ends, the queue is
    /// dropped.
    fn go_offline(&mut self, now: Instant, events: &mut Vec<PanelEvent>) {
        let was_online = self.link == LinkState::Online;
        self.link = LinkState::Offline {
            retry_at: Some(now + Duration::from_millis(RETRY_AFTER_MS)),
        };
        self.reset();
        let name = &self.config.name;
        if let Some(Sent {
            asked: Asked::Queued(command),
            ..
        }) = self.unanswered.take()
        {
            events.push(PanelEvent::CommandDropped {
                name: name.clone(),
                command,
            });
        }
        events.extend(
            self.queue
                .drain(..)
                .map(|command| PanelEvent::CommandDropped {
                    name: name.clone(),
                    command,
                }),
        );
        if was_online {
            events.push(PanelEvent::PdOffline { name: name.clone() });
        }
    }
}

/// The frame on the line whose reply is awaited.
#[derive(Debug, Clone, Copy)]
struct Awaiting {
    pd: usize,
    deadline: Instant,
}

/// Where RND.A comes from: the caller's cryptographic random source (a fixed sequence in
/// tests).
pub type Challenges = Box<dyn FnMut() -> [u8; RANDOM_LEN_BYTES] + Send>;

/// The control panel of one OSDP line. See the module documentation.
pub struct ControlPanel {
    pds: Vec<Pd>,
    challenges: Challenges,
    secure_only: bool,
    decoder: FrameDecoder,
    awaiting: Option<Awaiting>,
    /// The PD that had the last turn; the next turn starts after it.
    cursor: usize,
}

impl fmt::Debug for ControlPanel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPanel")
            .field("pds", &self.pds)
            .field("secure_only", &self.secure_only)
            .field("awaiting", &self.awaiting)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// The SQN after `sqn`: 0 (reset) and 3 are followed by 1.
fn sqn_after(sqn: u8) -> u8 {
    match sqn {
        0 | 3 => 1,
        other => other + 1,
    }
}

/// Whether an OUT command may carry `records`.
fn check_out_records(records: &[OutputCommand]) -> Result<(), CommandError> {
    if records.is_empty() || records.len() > OUT_RECORDS_PER_COMMAND_MAX {
        return Err(CommandError::Records {
            count: records.len(),
            max: OUT_RECORDS_PER_COMMAND_MAX,
        });
    }
    Ok(())
}

/// Keypad codes as text: `0x30`–`0x39` digits, `0x7F` `*`, `0x0D` `#`.
fn keypad_text(keys: &[u8]) -> String {
    keys.iter()
        .map(|&key| match key {
            b'0'..=b'9' => char::from(key),
            0x7F => '*',
            0x0D => '#',
            _ => '?',
        })
        .collect()
}

impl ControlPanel {
    /// A panel for `config`; every PD starts offline, to be probed on the first turn.
    /// `challenges` gives a fresh random RND.A for each Secure Channel handshake.
    pub fn new(config: PanelConfig, challenges: Challenges) -> Result<ControlPanel, ConfigError> {
        let count = config.pds.len();
        if count == 0 || count > PDS_PER_LINE_MAX {
            return Err(ConfigError::PdCount {
                count,
                max: PDS_PER_LINE_MAX,
            });
        }
        for (at, pd) in config.pds.iter().enumerate() {
            if pd.addr >= ADDR_BROADCAST {
                return Err(ConfigError::Address {
                    name: pd.name.clone(),
                    addr: pd.addr,
                });
            }
            let earlier = &config.pds[..at];
            if earlier.iter().any(|other| other.addr == pd.addr) {
                return Err(ConfigError::DuplicateAddress { addr: pd.addr });
            }
            if pd.name.is_empty() || earlier.iter().any(|other| other.name == pd.name) {
                return Err(ConfigError::Name {
                    name: pd.name.clone(),
                });
            }
            if pd.key == (PdKey::Install { site_key: SCBK_D }) {
                return Err(ConfigError::SiteKey {
                    name: pd.name.clone(),
                });
            }
        }
        let pds = config
            .pds
            .into_iter()
            .map(|config| Pd {
                config,
                link: LinkState::Offline { retry_at: None },
                next_sqn: 0,
                unanswered: None,
                queue: VecDeque::new(),
                next_poll_at: None,
                last_reply_at: None,
                step: Step::Id,
                id: None,
                caps: Vec::new(),
                handshake: None,
                handshake_scbk: None,
                session: None,
            })
            .collect::<Vec<_>>();
        Ok(ControlPanel {
            challenges,
            cursor: pds.len() - 1,
            pds,
            secure_only: config.secure_only,
            decoder: FrameDecoder::new(),
            awaiting: None,
        })
    }

    /// The link state of the PD called `name`.
    pub fn link(&self, name: &str) -> Option<LinkState> {
        self.pds
            .iter()
            .find(|pd| pd.config.name == name)
            .map(|pd| pd.link)
    }

    /// Until when the reply to the last frame is awaited; `None` when the line is free.
    pub fn reply_deadline(&self) -> Option<Instant> {
        self.awaiting.map(|awaiting| awaiting.deadline)
    }

    /// When [`ControlPanel::next_frame`] may next return a frame: `now` if it would now,
    /// the reply deadline while a reply is awaited, `None` if no PD will ever be due
    /// (all refused).
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        if let Some(awaiting) = self.awaiting {
            return Some(awaiting.deadline);
        }
        if self.pds.iter().any(|pd| pd.due(now).is_some()) {
            return Some(now);
        }
        self.pds.iter().filter_map(Pd::due_at).min()
    }

    /// Queues an OUT record for the PD called `name`.
    pub fn output(&mut self, name: &str, command: OutputCommand) -> Result<(), CommandError> {
        self.enqueue(name, Command::Out(vec![command]))
    }

    /// Queues one OUT command with `records` (1 to [`OUT_RECORDS_PER_COMMAND_MAX`]) for
    /// the PD called `name`; the PD applies them in order, as one command.
    pub fn outputs(&mut self, name: &str, records: &[OutputCommand]) -> Result<(), CommandError> {
        check_out_records(records)?;
        self.enqueue(name, Command::Out(records.to_vec()))
    }

    /// Like [`ControlPanel::outputs`], but first drops everything queued for the PD
    /// (returned as [`PanelEvent::CommandDropped`]), so the queue limit cannot refuse it
    /// and nothing queued earlier runs after it. For a gate's lock and emergency unlock: a
    /// pulse queued before them must not undo them. A frame already on the line is not
    /// recalled; the PD gets it first.
    pub fn outputs_superseding(
        &mut self,
        name: &str,
        records: &[OutputCommand],
    ) -> Result<Vec<PanelEvent>, CommandError> {
        check_out_records(records)?;
        let pd = self.online_pd(name)?;
        let dropped = pd
            .queue
            .drain(..)
            .map(|command| PanelEvent::CommandDropped {
                name: name.to_owned(),
                command,
            })
            .collect();
        pd.queue.push_back(Command::Out(records.to_vec()));
        Ok(dropped)
    }

    /// Queues an LED record for the PD called `name`.
    pub fn led(&mut self, name: &str, command: LedCommand) -> Result<(), CommandError> {
        self.enqueue(name, Command::Led(vec![command]))
    }

    /// Queues a buzzer command for the PD called `name`.
    pub fn buzzer(&mut self, name: &str, command: BuzzerCommand) -> Result<(), CommandError> {
        self.enqueue(name, Command::Buzzer(command))
    }

    /// The online PD called `name`.
    fn online_pd(&mut self, name: &str) -> Result<&mut Pd, CommandError> {
        let pd = self
            .pds
            .iter_mut()
            .find(|pd| pd.config.name == name)
            .ok_or_else(|| CommandError::UnknownPd {
                name: name.to_owned(),
            })?;
        if pd.link != LinkState::Online {
            return Err(CommandError::NotOnline {
                name: name.to_owned(),
            });
        }
        Ok(pd)
    }

    fn enqueue(&mut self, name: &str, command: Command) -> Result<(), CommandError> {
        let pd = self.online_pd(name)?;
        if pd.queue.len() >= COMMAND_QUEUE_LEN_MAX {
            return Err(CommandError::QueueFull {
                name: name.to_owned(),
                len_max: COMMAND_QUEUE_LEN_MAX,
            });
        }
        pd.queue.push_back(command);
        Ok(())
    }

    /// The next frame to put on the line, with its PD address, or `None` while a reply is
    /// awaited or no PD is due. The PDs take turns in configuration order.
    pub fn next_frame(&mut self, now: Instant) -> Option<(u8, Vec<u8>)> {
        if self.awaiting.is_some() {
            return None;
        }
        let count = self.pds.len();
        // Bounded: one look at each PD.
        for step in 1..=count {
            let at = (self.cursor + step) % count;
            let pd = &mut self.pds[at];
            let Some(turn) = pd.due(now) else {
                continue;
            };
            let bytes = match (turn, &pd.unanswered) {
                (Turn::Resend, Some(sent)) => sent.bytes.clone(),
                (Turn::Resend, None) => continue,
                (Turn::New(asked), _) => {
                    if asked == Asked::Id {
                        // A new connection: SQN 0 resets the PD's sequence.
                        pd.link = LinkState::Connecting;
                        pd.reset();
                    }
                    let bytes = match pd.build(&asked) {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            // Unreachable with a checked address and one-record commands;
                            // drop the command rather than wedge the PD.
                            tracing::error!(pd = %pd.config.name, %error, "OSDP command not encodable");
                            if let Asked::Queued(_) = asked {
                                pd.queue.pop_front();
                            }
                            continue;
                        }
                    };
                    if let Asked::Queued(_) = asked {
                        pd.queue.pop_front();
                    }
                    pd.unanswered = Some(Sent {
                        asked,
                        sqn: pd.next_sqn,
                        bytes: bytes.clone(),
                    });
                    bytes
                }
            };
            self.cursor = at;
            self.awaiting = Some(Awaiting {
                pd: at,
                deadline: now + Duration::from_millis(REPLY_TIMEOUT_MS),
            });
            return Some((pd.config.addr, bytes));
        }
        None
    }

    /// The reply deadline has passed (the caller's timer fired). Before the deadline, or
    /// with nothing awaited, this does nothing. The unanswered frame is resent on the
    /// PD's next turn; an online PD silent for [`OFFLINE_AFTER_MS`] goes offline, and a
    /// PD still connecting is probed again after [`RETRY_AFTER_MS`].
    pub fn on_timeout(&mut self, now: Instant) -> Vec<PanelEvent> {
        let mut events = Vec::new();
        let Some(awaiting) = self.awaiting.filter(|awaiting| awaiting.deadline <= now) else {
            return events;
        };
        self.awaiting = None;
        let pd = &mut self.pds[awaiting.pd];
        match pd.link {
            LinkState::Online => {
                let silent_ms = pd
                    .last_reply_at
                    .map_or(u128::MAX, |at| now.duration_since(at).as_millis());
                if silent_ms >= u128::from(OFFLINE_AFTER_MS) {
                    tracing::info!(pd = %pd.config.name, "OSDP PD offline");
                    pd.go_offline(now, &mut events);
                } else {
                    tracing::debug!(pd = %pd.config.name, "OSDP reply missing; will retry");
                }
            }
            _ => {
                if let Some(Sent {
                    asked: Asked::KeySet(_),
                    ..
                }) = pd.unanswered
                {
                    tracing::warn!(pd = %pd.config.name, "OSDP KEYSET unanswered");
                    events.push(PanelEvent::ProtocolError {
                        name: Some(pd.config.name.clone()),
                        error: ProtocolError::KeySetUnanswered,
                    });
                }
                pd.go_offline(now, &mut events)
            }
        }
        events
    }

    /// Bytes from the line, in any chunking.
    pub fn on_bytes(&mut self, now: Instant, bytes: &[u8]) -> Vec<PanelEvent> {
        let mut events = Vec::new();
        for decoded in self.decoder.push(bytes) {
            let name = self
                .awaiting
                .map(|awaiting| self.pds[awaiting.pd].config.name.clone());
            match decoded {
                Ok(frame) => self.on_frame(now, frame, &mut events),
                Err(error) => {
                    tracing::debug!(?name, %error, "OSDP bytes dropped");
                    events.push(PanelEvent::ProtocolError {
                        name,
                        error: error.into(),
                    });
                }
            }
        }
        events
    }

    fn on_frame(&mut self, now: Instant, frame: Frame, events: &mut Vec<PanelEvent>) {
        let expected = self.awaiting.and_then(|awaiting| {
            let pd = &self.pds[awaiting.pd];
            let sent = pd.unanswered.as_ref()?;
            let fits = frame.reply && frame.addr == pd.config.addr && frame.sqn == sent.sqn;
            fits.then_some(awaiting.pd)
        });
        let Some(at) = expected else {
            events.push(PanelEvent::ProtocolError {
                name: self
                    .awaiting
                    .map(|awaiting| self.pds[awaiting.pd].config.name.clone()),
                error: ProtocolError::Unexpected {
                    addr: frame.addr,
                    reply: frame.reply,
                    sqn: frame.sqn,
                },
            });
            return;
        };
        let secure_only = self.secure_only;
        let pd = &mut self.pds[at];
        let name = pd.config.name.clone();
        let protocol_error = |error: ProtocolError| PanelEvent::ProtocolError {
            name: Some(name.clone()),
            error,
        };
        let asked = pd.unanswered.as_ref().map(|sent| &sent.asked);
        let in_handshake = matches!(asked, Some(Asked::Chlng(_) | Asked::Scrypt(_)));
        let after_keyset = matches!(asked, Some(Asked::KeySet(_)));
        // On any error the reply is still awaited: the timeout turns it into a retry.
        let (code, data) = match (&mut pd.session, frame.scb.is_some()) {
            // A PD may drop the SCBK-D session as soon as it has the new key and answer
            // KEYSET in clear (libosdp's CP accepts that too). A forged clear ACK gains
            // nothing: the next handshake, on the site key, would fail.
            (Some(_), false) if after_keyset => (frame.code, frame.data),
            (Some(session), _) => match session.open(&frame) {
                Ok(opened) => opened,
                Err(error) => {
                    events.push(protocol_error(error.into()));
                    return;
                }
            },
            (None, true) if !in_handshake => {
                events.push(protocol_error(ProtocolError::Secured));
                return;
            }
            (None, _) => (frame.code, frame.data),
        };
        let reply = match Reply::parse(code, &data) {
            Ok(reply) => reply,
            Err(error) => {
                events.push(protocol_error(error.into()));
                return;
            }
        };
        // A well-formed answer: the PD is alive and the exchange is over.
        self.awaiting = None;
        pd.last_reply_at = Some(now);
        if reply == Reply::Busy {
            // Same frame, same SQN, on the next turn.
            return;
        }
        let Some(sent) = pd.unanswered.take() else {
            return;
        };
        pd.next_sqn = sqn_after(sent.sqn);
        if sent.asked == Asked::Poll {
            pd.next_poll_at = Some(now + Duration::from_millis(POLL_INTERVAL_MS));
        }
        let command_code = sent.asked.command().code();
        match (sent.asked, reply) {
            (_, Reply::RawCard(raw)) => events.push(PanelEvent::CardRead {
                name,
                card: raw.card_id(pd.config.wiegand34),
                raw,
            }),
            (Asked::Poll, Reply::InputStatus(inputs)) => {
                events.push(PanelEvent::InputStatus { name, inputs })
            }
            (_, Reply::Keypad { reader, digits }) => events.push(PanelEvent::Keypad {
                name,
                reader,
                digits: keypad_text(&digits),
            }),
            (Asked::Queued(command), Reply::Ack) => {
                events.push(PanelEvent::CommandAcked { name, command })
            }
            (Asked::Queued(command), Reply::Nak { reason, .. }) => {
                events.push(PanelEvent::CommandNakked {
                    name,
                    command,
                    reason,
                })
            }
            (Asked::Poll, Reply::Ack) => {}
            (
                Asked::Id,
                Reply::PdId {
                    vendor,
                    model,
                    version,
                    serial,
                    firmware,
                },
            ) => {
                pd.id = Some(PdId {
                    vendor,
                    model,
                    version,
                    serial,
                    firmware,
                });
                pd.step = Step::Cap;
            }
            (Asked::Cap, Reply::PdCap(caps)) => {
                pd.caps = caps;
                match (pd.config.key, secure_only) {
                    (PdKey::Scbk(_) | PdKey::Install { .. }, _) => {
                        pd.step = Step::Chlng((self.challenges)())
                    }
                    (PdKey::Clear, true) => {
                        pd.secure_channel_failed(secure_only, RefusalReason::NoKey, now, events)
                    }
                    (PdKey::Clear, false) => pd.come_online(now, events),
                }
            }
            (
                Asked::Chlng(rnd_a),
                Reply::CCrypt {
                    rnd_b,
                    client_cryptogram,
                    ..
                },
            ) => {
                // Bounded: at most two keys.
                let mut started = None;
                for scbk in pd.config.key.handshake_keys().into_iter().flatten() {
                    let attempt = Handshake::start(&scbk, &rnd_a, &rnd_b, &client_cryptogram)
                        .map(|handshake| (handshake, scbk));
                    let matched = attempt.is_ok();
                    started = Some(attempt);
                    if matched {
                        break;
                    }
                }
                match started {
                    Some(Ok((handshake, scbk))) => {
                        pd.handshake = Some(handshake);
                        pd.handshake_scbk = Some(scbk);
                        pd.step = Step::Scrypt;
                    }
                    Some(Err(error)) => pd.secure_channel_failed(
                        secure_only,
                        RefusalReason::Handshake(error),
                        now,
                        events,
                    ),
                    // Not reached: CHLNG is sent only with a key.
                    None => pd.go_offline(now, events),
                }
            }
            (Asked::Scrypt(_), Reply::RMacI { rmac }) => {
                match pd
                    .handshake
                    .take()
                    .map(|handshake| handshake.confirm(&rmac))
                {
                    Some(Ok(session)) => {
                        pd.session = Some(session);
                        match pd.config.key {
                            PdKey::Install { site_key } if pd.handshake_scbk == Some(SCBK_D) => {
                                // The SCBK-D session carries KEYSET and nothing else.
                                tracing::info!(pd = %name, "OSDP PD in install mode: KEYSET");
                                pd.step = Step::KeySet(site_key);
                            }
                            PdKey::Install { site_key } => {
                                // It already had the site key: an earlier KEYSET took.
                                tracing::info!(pd = %name, "OSDP PD already holds the site key");
                                pd.config.key = PdKey::Scbk(site_key);
                                events.push(PanelEvent::KeySet { name: name.clone() });
                                pd.come_online(now, events);
                            }
                            PdKey::Clear | PdKey::Scbk(_) => pd.come_online(now, events),
                        }
                    }
                    Some(Err(error)) => pd.secure_channel_failed(
                        secure_only,
                        RefusalReason::Handshake(error),
                        now,
                        events,
                    ),
                    // Not reached: SCRYPT is sent only with a handshake.
                    None => pd.go_offline(now, events),
                }
            }
            (Asked::KeySet(site_key), Reply::Ack) => {
                tracing::info!(pd = %name, "OSDP PD took the site key");
                pd.config.key = PdKey::Scbk(site_key);
                pd.session = None;
                pd.handshake_scbk = None;
                events.push(PanelEvent::KeySet { name });
                // The PD has dropped the SCBK-D session: a new one, on the site key.
                pd.step = Step::Chlng((self.challenges)());
            }
            (Asked::KeySet(_), Reply::Nak { reason, .. }) => {
                pd.refuse(RefusalReason::KeySetRefused(reason), events)
            }
            (Asked::Chlng(_) | Asked::Scrypt(_), Reply::Nak { reason, .. }) => pd
                .secure_channel_failed(
                    secure_only,
                    RefusalReason::SecureChannelRefused(reason),
                    now,
                    events,
                ),
            (asked, Reply::Nak { reason, .. }) => {
                events.push(protocol_error(ProtocolError::Nak {
                    command: command_code,
                    reason,
                }));
                if asked != Asked::Poll {
                    pd.go_offline(now, events);
                } else if reason == NakReason::Sequence {
                    // The PD lost the sequence (it restarted): start it again at 0.
                    pd.next_sqn = 0;
                }
            }
            (Asked::Poll, Reply::Unknown { code, .. }) => {
                // Status reports and vendor replies this panel does not use yet.
                tracing::debug!(pd = %name, code, "OSDP reply ignored");
            }
            (asked, reply) => {
                tracing::debug!(pd = %name, ?reply, "OSDP reply does not fit its command");
                events.push(protocol_error(ProtocolError::WrongReply {
                    command: command_code,
                    reply: code,
                }));
                if !matches!(asked, Asked::Poll | Asked::Queued(_)) {
                    pd.go_offline(now, events);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
