//! The serial ports of this machine, described for an installer picking the reader's one:
//! the installer's tool (`schoolcard-readers ports`) and the workstation's device screen
//! both list them from here.

use std::fmt::Write as _;

use serialport::SerialPortType;

/// Where Linux keeps device nodes; searched when port enumeration finds nothing.
pub const DEV_DIR: &str = "/dev";

/// Device name prefixes of USB serial adapters (FTDI, CH340, CP210x; CDC-ACM).
const USB_SERIAL_PREFIXES: [&str; 2] = ["ttyUSB", "ttyACM"];

/// Most device nodes listed by the fallback scan: `/dev` holds a few hundred entries, and
/// a school PC has a handful of USB serial adapters.
const FALLBACK_PORTS_MAX: usize = 64;

/// USB ids worth naming for an installer: (vendor, product, what it usually is).
const KNOWN_USB_DEVICES: [(u16, u16, &str); 3] = [
    (0x0403, 0x1234, "IronLogic reader (Z-2 USB, Matrix-III)"),
    (0x1a86, 0x7523, "CH340 adapter (LCUS relay boards use it)"),
    (0x0403, 0x6001, "FTDI adapter"),
];

/// One serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// What to open (`/dev/ttyUSB0`, `COM3`).
    pub path: String,
    /// What is known of it: USB vendor:product id, manufacturer, product, serial number,
    /// and what such a device usually is.
    pub description: String,
}

/// The serial ports, as the OS enumerates them; when enumeration fails or finds nothing,
/// the USB serial device nodes in [`DEV_DIR`]. The second value says why enumeration
/// failed, if it did.
pub fn list_serial_ports() -> (Vec<PortInfo>, Option<String>) {
    let (found, failure) = match serialport::available_ports() {
        Ok(found) => (found, None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    if !found.is_empty() {
        let ports = found
            .iter()
            .map(|port| PortInfo {
                path: port.port_name.clone(),
                description: describe(&port.port_type),
            })
            .collect();
        return (ports, failure);
    }
    let mut nodes = usb_serial_nodes();
    nodes.sort();
    let ports = nodes
        .into_iter()
        .map(|path| PortInfo {
            path,
            description: format!("unknown type (device node in {DEV_DIR})"),
        })
        .collect();
    (ports, failure)
}

fn describe(port_type: &SerialPortType) -> String {
    match port_type {
        SerialPortType::UsbPort(usb) => {
            let mut text = format!("USB {:04x}:{:04x}", usb.vid, usb.pid);
            for field in [&usb.manufacturer, &usb.product].into_iter().flatten() {
                let _ = write!(text, " {field}");
            }
            if let Some(serial) = &usb.serial_number {
                let _ = write!(text, " serial {serial}");
            }
            if let Some((_, _, known)) = KNOWN_USB_DEVICES
                .iter()
                .find(|&&(vid, pid, _)| vid == usb.vid && pid == usb.pid)
            {
                let _ = write!(text, " — likely {known}");
            }
            text
        }
        SerialPortType::PciPort => "built-in (PCI) port".to_owned(),
        SerialPortType::BluetoothPort => "Bluetooth port".to_owned(),
        SerialPortType::Unknown => "unknown type".to_owned(),
    }
}

fn usb_serial_nodes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(DEV_DIR) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| {
            USB_SERIAL_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .take(FALLBACK_PORTS_MAX)
        .map(|name| format!("{DEV_DIR}/{name}"))
        .collect()
}
