//! This workstation's readers and gates: the list, saving one (checked by
//! `peripherals::check_spec`), removing one. The shell restarts its drivers after a save
//! or a removal from [`Workstation::peripherals_here`].

use super::{parse_col, Workstation};
use crate::error::{CoreError, CoreResult, Refusal};
use crate::events::EventBody;
use crate::peripherals::{check_spec, Direction, Peripheral, PeripheralId, PeripheralSpec};
use crate::time::from_micros;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// OSDP Secure Channel keys are AES-128 keys.
pub const OSDP_KEY_LEN_BYTES: usize = 16;
/// The name of the OSDP site key among the local secrets.
const OSDP_SITE_KEY_SECRET: &str = "osdp_site_key";

impl Workstation {
    /// The readers and gates configured on this workstation, by name.
    pub fn peripherals_here(&self) -> CoreResult<Vec<Peripheral>> {
        let mut statement = self.store.conn().prepare_cached(
            "SELECT id, spec, updated_at_us FROM peripherals WHERE workstation = ?1
             ORDER BY name COLLATE NOCASE, id",
        )?;
        let rows = statement.query_map([self.store.device().to_string()], |r| {
            Ok((
                parse_col::<PeripheralId>(r, 0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut peripherals = Vec::new();
        for row in rows {
            let (id, spec, updated_at_us) = row?;
            let spec: PeripheralSpec = serde_json::from_str(&spec).map_err(|error| {
                CoreError::Store(crate::error::StoreError::CorruptEvent {
                    seq: 0,
                    message: format!("peripheral {id}: {error}"),
                })
            })?;
            peripherals.push(Peripheral {
                id,
                spec,
                updated_at: from_micros(updated_at_us),
            });
        }
        Ok(peripherals)
    }

    /// The key this workstation gives its OSDP readers for the Secure Channel (KEYSET in
    /// install mode), made from the OS's random source the first time it is needed.
    pub fn osdp_site_key(&mut self, now: DateTime<Utc>) -> CoreResult<[u8; OSDP_KEY_LEN_BYTES]> {
        let mut fresh = [0u8; OSDP_KEY_LEN_BYTES];
        let key = self.store.write(|w| {
            w.local_secret(OSDP_SITE_KEY_SECRET, now, || {
                getrandom::getrandom(&mut fresh).expect("the OS has a random source");
                fresh.to_vec()
            })
        })?;
        key.try_into().map_err(|key: Vec<u8>| {
            CoreError::Store(crate::error::StoreError::CorruptEvent {
                seq: 0,
                message: format!("the OSDP site key is {} bytes long", key.len()),
            })
        })
    }

    pub(super) fn list_devices(&self) -> CoreResult<Value> {
        Ok(json!({ "devices": self.peripherals_here()? }))
    }

    pub(super) fn save_device(
        &mut self,
        actor: &str,
        device_id: Option<PeripheralId>,
        spec: PeripheralSpec,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let here = self.peripherals_here()?;
        let id = match device_id {
            Some(id) if here.iter().any(|p| p.id == id) => id,
            Some(id) => return Err(CoreError::not_found(format!("device {id}"))),
            None => PeripheralId::new_v7(),
        };
        let spec = check_spec(id, spec, &here)?;
        // A gate that readers open stays a gate.
        if !spec.connection.is_gate() {
            if let Some(readers) = readers_of_gate(&here, id) {
                return Err(gate_in_use(&readers));
            }
        }
        let unchanged = here.iter().any(|p| p.id == id && p.spec == spec);
        if !unchanged {
            self.store.write(|w| {
                w.append(
                    actor,
                    now,
                    EventBody::PeripheralConfigured {
                        peripheral_id: id,
                        spec,
                    },
                )
            })?;
        }
        Ok(json!({ "device_id": id }))
    }

    pub(super) fn remove_device(
        &mut self,
        actor: &str,
        device_id: PeripheralId,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let here = self.peripherals_here()?;
        if !here.iter().any(|p| p.id == device_id) {
            return Err(CoreError::not_found(format!("device {device_id}")));
        }
        if let Some(readers) = readers_of_gate(&here, device_id) {
            return Err(gate_in_use(&readers));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::PeripheralRemoved {
                    peripheral_id: device_id,
                },
            )
        })?;
        Ok(json!({}))
    }
}

impl Workstation {
    pub(super) fn open_gate(
        &mut self,
        actor: &str,
        device_id: PeripheralId,
        direction: Direction,
        now: DateTime<Utc>,
    ) -> CoreResult<Value> {
        let here = self.peripherals_here()?;
        let gate = here
            .iter()
            .find(|p| p.id == device_id)
            .ok_or_else(|| CoreError::not_found(format!("device {device_id}")))?;
        if !gate.spec.connection.is_gate() {
            return Err(CoreError::invalid(
                "device_id",
                Refusal::NotAGate,
                format!("{:?} is not a gate", gate.spec.name),
            ));
        }
        self.store.write(|w| {
            w.append(
                actor,
                now,
                EventBody::GateOpenedByHand {
                    peripheral_id: device_id,
                    direction,
                },
            )
        })?;
        Ok(json!({ "device_id": device_id, "direction": direction }))
    }
}

impl Workstation {
    pub(super) fn end_emergency(&mut self, actor: &str, now: DateTime<Utc>) -> CoreResult<Value> {
        let gates: Vec<PeripheralId> = self
            .peripherals_here()?
            .into_iter()
            .filter(|p| p.spec.enabled && p.spec.connection.is_gate())
            .map(|p| p.id)
            .collect();
        self.store
            .write(|w| w.append(actor, now, EventBody::EmergencyEnded { gates }))?;
        Ok(json!({}))
    }
}

/// The names of the readers that open `gate`, if any do.
fn readers_of_gate(here: &[Peripheral], gate: PeripheralId) -> Option<Vec<String>> {
    let readers: Vec<String> = here
        .iter()
        .filter(|p| p.id != gate && p.spec.gate_id == Some(gate))
        .map(|p| p.spec.name.clone())
        .collect();
    (!readers.is_empty()).then_some(readers)
}

fn gate_in_use(readers: &[String]) -> CoreError {
    CoreError::conflict(
        Refusal::GateInUse,
        format!("the gate is opened by {}", readers.join(", ")),
    )
    .with("readers", readers.join(", "))
}
