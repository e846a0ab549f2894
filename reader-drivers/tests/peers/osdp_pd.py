"""A reference OSDP reader for tests: libosdp 3.2.9 as a PD on a serial port (a pty).

Usage: osdp_pd.py PORT_PATH ADDRESS (SCBK_HEX | none | install)

  SCBK_HEX   the PD's own key, with LibFlag.EnforceSecure (no clear, no SCBK-D)
  none       no key and no flags: a reader set up for clear
  install    no key, LibFlag.InstallMode: accepts one SCBK-D session, for KEYSET

Prints one JSON line per happening on stdout, flushed; bytes as hex strings:
  {"ready": true}                     the PD is running
  {"command": {...}}                  a command from the CP (OUT, LED, BUZ, KEYSET, ...)
  {"command": {...}, "out": "N C T"}  an OUT record: output N, control code C, timer T
  {"submitted": <ret>}                a card event was queued
  {"sc_active": <bool>}               answer to "status"
Reads commands on stdin, one per line:
  card BITS HEX                       submit a Wiegand card read (reader 0)
  inputs HEX                          submit an input status report, one byte per input
  status                              report whether a Secure Channel session is up
  quit                                stop and exit
Exits when stdin closes.
"""

import json
import os
import sys
import tty

from osdp import (Capability, CardFormat, Channel, Command, Event, LibFlag,
                  LogLevel, PDCapabilities, PDInfo, PdId, PeripheralDevice,
                  StatusReportType)


class PtyChannel(Channel):
    def __init__(self, path):
        super().__init__()
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)

    def read(self, max_bytes):
        try:
            return os.read(self.fd, max_bytes)
        except BlockingIOError:
            return b""

    def write(self, buf):
        try:
            return os.write(self.fd, buf)
        except BlockingIOError:
            return 0

    def flush(self):
        pass


def as_json(value):
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def emit(obj):
    sys.stdout.write(json.dumps(obj, default=as_json) + "\n")
    sys.stdout.flush()


def main():
    path, address, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if key == "none":
        scbk, flags = None, []
    elif key == "install":
        scbk, flags = None, [LibFlag.InstallMode]
    else:
        scbk, flags = bytes.fromhex(key), [LibFlag.EnforceSecure]
    info = PDInfo(address, PtyChannel(path), scbk=scbk, flags=flags,
                  id=PdId(version=2, model=3, vendor_code=0x00C0FFEE,
                          serial_number=0x12345678, firmware_version=0x00010203))
    caps = PDCapabilities([
        # Two inputs: a turnstile's pass contacts.
        (Capability.ContactStatusMonitoring, 1, 2),
        # Two outputs: a turnstile's Unlock A and Unlock B.
        (Capability.OutputControl, 1, 2),
        (Capability.LEDControl, 1, 1),
        (Capability.AudibleControl, 1, 1),
        (Capability.CardDataFormat, 1, 1),
    ])

    def on_command(command):
        if command.get("command") == Command.Output:
            out = "{} {} {}".format(command.get("output_no"), command.get("control_code"),
                                    command.get("timer_count"))
            emit({"command": command, "out": out})
        else:
            emit({"command": command})
        return 0, None

    pd = PeripheralDevice(info, caps, log_level=LogLevel.Error, command_handler=on_command)
    pd.start()
    emit({"ready": True})
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] == "card":
                bits, data = int(words[1]), bytes.fromhex(words[2])
                ret = pd.submit_event({
                    "event": Event.CardRead, "reader_no": 0,
                    "format": CardFormat.Wiegand, "direction": 0,
                    "length": bits, "data": data,
                })
                emit({"submitted": ret})
            if words[0] == "inputs":
                report = bytes.fromhex(words[1])
                ret = pd.submit_event({
                    "event": Event.Status, "type": StatusReportType.Input,
                    "nr_entries": len(report), "report": report,
                })
                emit({"submitted": ret})
            if words[0] == "status":
                emit({"sc_active": pd.is_sc_active()})
    finally:
        pd.stop()


if __name__ == "__main__":
    main()
