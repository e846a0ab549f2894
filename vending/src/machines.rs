//! The vending machines allowed to ask: each has a name and a key of its own. The key is
//! shown once when the machine is added and kept only as its SHA-256 digest, so a copy of
//! the configuration does not let anyone sell.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a new key (shown as twice as many hex digits).
const KEY_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct Machine {
    /// Stable id, used in the journal's sales (`vending:<id>`).
    pub id: String,
    /// What the admin calls it: «Автомат у спортзала».
    pub name: String,
    key_sha256: [u8; 32],
}

impl Machine {
    /// A machine whose key is `key` (as shown to the admin).
    pub fn with_key(id: &str, name: &str, key: &str) -> Machine {
        Machine::with_digest(id, name, digest(key))
    }

    /// A machine whose key's SHA-256 digest is `key_sha256` (as stored).
    pub fn with_digest(id: &str, name: &str, key_sha256: [u8; 32]) -> Machine {
        Machine {
            id: id.to_owned(),
            name: name.to_owned(),
            key_sha256,
        }
    }

    pub fn key_sha256_hex(&self) -> String {
        hex::encode(self.key_sha256)
    }
}

/// The machine `key` belongs to. Every machine's digest is compared in constant time, so
/// the answer takes as long whichever machine (or none) the key is.
pub fn find<'a>(machines: &'a [Machine], key: &str) -> Option<&'a Machine> {
    let presented = digest(key);
    let mut found = None;
    for machine in machines {
        if bool::from(machine.key_sha256.ct_eq(&presented)) {
            found = Some(machine);
        }
    }
    found
}

/// A fresh key for a new machine, from the OS's random source.
pub fn new_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::getrandom(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_finds_its_machine_and_nothing_else_does() {
        let (key_a, key_b) = (new_key().unwrap(), new_key().unwrap());
        assert_eq!(key_a.len(), 2 * KEY_BYTES);
        assert_ne!(key_a, key_b);
        let machines = [
            Machine::with_key("a", "У спортзала", &key_a),
            Machine::with_key("b", "У столовой", &key_b),
        ];
        assert_eq!(find(&machines, &key_a).map(|m| m.id.as_str()), Some("a"));
        assert_eq!(find(&machines, &key_b).map(|m| m.id.as_str()), Some("b"));
        assert!(find(&machines, "").is_none());
        assert!(find(&machines, &key_a[1..]).is_none());
        // The digest is kept, not the key.
        assert!(!machines[0].key_sha256_hex().contains(&key_a));
    }
}
