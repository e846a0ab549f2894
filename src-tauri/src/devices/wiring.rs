//! From a configured peripheral (core's words) to a driver's configuration
//! (`schoolcard-readers`' words). Pure conversions; the core has checked the values.

use schoolcard_core::peripherals::{Connection, Direction, LineFormatName, Paper, PeripheralId};
use schoolcard_readers::gate::{self, LcusGateConfig, PassReport};
use schoolcard_readers::osdp::card::Wiegand34ByteOrder;
use schoolcard_readers::osdp::panel::{PanelConfig, PdConfig, PdKey};
use schoolcard_readers::printer::PrinterConnection;
use schoolcard_readers::serial::PortSettings;
use schoolcard_readers::serial_line::{LineFormat, LinePattern};
use schoolcard_reports::{PaperWidth, PrinterProfile};
use std::time::Duration;

/// The line format of a serial reader; a pattern the driver refuses is said in words.
pub fn line_format(format: LineFormatName, pattern: Option<&str>) -> Result<LineFormat, String> {
    Ok(match format {
        LineFormatName::IronLogicZ2 => LineFormat::IronLogicZ2,
        LineFormatName::HexUid => LineFormat::HexUid,
        LineFormatName::DecimalUid => LineFormat::DecimalUid,
        LineFormatName::Pattern => LineFormat::Pattern(
            LinePattern::new(pattern.unwrap_or_default()).map_err(|e| e.to_string())?,
        ),
    })
}

/// 8N1 at the configured speed.
pub fn port_settings(baud_rate: u32) -> PortSettings {
    PortSettings {
        baud_rate,
        ..PortSettings::default()
    }
}

/// A receipt printer's port: a USB printer node (`/dev/usb/lp0`, `/dev/lp0`) is written as
/// a file; anything else is a serial port at the configured speed.
pub fn printer_connection(port: &str, baud_rate: u32) -> PrinterConnection {
    let usb_node = port.starts_with("/dev/usb/lp") || port.starts_with("/dev/lp");
    if usb_node {
        PrinterConnection::device_file(port)
    } else {
        PrinterConnection::serial(port, port_settings(baud_rate))
    }
}

/// The printer's layout for its roll.
pub fn printer_profile(paper: Paper) -> PrinterProfile {
    PrinterProfile::for_paper(match paper {
        Paper::Mm58 => PaperWidth::Mm58,
        Paper::Mm80 => PaperWidth::Mm80,
    })
}

/// A relay board has no pass sensor: an opened turnstile counts as a passage, as the
/// school accepts when it wires a gate without one.
pub fn relay_config(entry_channel: u8, exit_channel: u8, pulse_ms: u32) -> LcusGateConfig {
    LcusGateConfig {
        entry_channel,
        exit_channel,
        pulse_hold: Duration::from_millis(u64::from(pulse_ms)),
        pass_report: PassReport::AssumeAfterPulse,
    }
}

/// The OSDP PD of a configured reader: named by its peripheral id (events carry it back);
/// on a secure-only line given the workstation's site key in install mode (a PD that
/// holds it already is recognised), otherwise used in clear.
pub fn pd_config(id: PeripheralId, address: u8, secure_only: bool, site_key: [u8; 16]) -> PdConfig {
    PdConfig {
        addr: address,
        name: id.to_string(),
        key: if secure_only {
            PdKey::Install { site_key }
        } else {
            PdKey::Clear
        },
        wiegand34: Wiegand34ByteOrder::default(),
    }
}

/// The panel of one RS-485 line from its PDs; the line is secure-only if any of its
/// readers was configured so (a line's policy is one).
pub fn panel_config(pds: Vec<PdConfig>, secure_only: bool) -> PanelConfig {
    PanelConfig { pds, secure_only }
}

pub fn gate_direction(direction: Direction) -> gate::Direction {
    match direction {
        Direction::Entry => gate::Direction::Entry,
        Direction::Exit => gate::Direction::Exit,
    }
}

/// The port an OSDP reader's line runs on, and its speed: readers sharing both share a
/// line.
pub fn osdp_line_key(connection: &Connection) -> Option<(String, u32)> {
    match connection {
        Connection::OsdpReader {
            port, baud_rate, ..
        } => Some((port.clone(), *baud_rate)),
        _ => None,
    }
}
