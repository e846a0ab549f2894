//! The sync protocol over HTTP(S), blocking, with time-outs on every call.

use super::{SyncError, Transport};
use schoolcard_proto::sync::{
    EnrolRequest, EnrolResponse, ErrorBody, PullResponse, PushRequest, PushResponse,
    DEVICE_AUTH_SCHEME, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use std::sync::Arc;
use std::time::Duration;

/// Time-outs of one call.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// The whole call, answer included.
    pub call: Duration,
    /// Keep connections open between calls (off: a new connection for each call, as the
    /// fault-injection tests want, so that every call meets the proxy's plan anew).
    pub reuse_connections: bool,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            call: Duration::from_secs(30),
            reuse_connections: true,
        }
    }
}

fn agent(timeouts: Timeouts) -> Result<ureq::Agent, SyncError> {
    let tls = native_tls::TlsConnector::new()
        .map_err(|e| SyncError::Offline(format!("TLS is not available: {e}")))?;
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(timeouts.connect)
        .timeout(timeouts.call)
        .tls_connector(Arc::new(tls));
    if !timeouts.reuse_connections {
        builder = builder.max_idle_connections(0);
    }
    Ok(builder.build())
}

/// The agent the update check and download use: the sync's TLS and time-outs.
pub(super) fn agent_for_updates(timeouts: Timeouts) -> Result<ureq::Agent, SyncError> {
    agent(timeouts)
}

/// A server's base URL without a trailing slash (`https://portal.example.ru`).
pub(super) fn base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Turns a transport or HTTP error into what the status bar says.
pub(super) fn failure(e: ureq::Error) -> SyncError {
    match e {
        ureq::Error::Status(status, response) => {
            let text = response.into_string().unwrap_or_default();
            match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => SyncError::Refused {
                    status,
                    code: Some(body.code),
                    message: body.message,
                },
                Err(_) => SyncError::Refused {
                    status,
                    code: None,
                    message: if text.trim().is_empty() {
                        format!("HTTP {status}")
                    } else {
                        text.chars().take(300).collect()
                    },
                },
            }
        }
        ureq::Error::Transport(t) => SyncError::Offline(t.to_string()),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(response: ureq::Response) -> Result<T, SyncError> {
    response
        .into_json()
        .map_err(|e| SyncError::Offline(format!("the answer was cut or unreadable: {e}")))
}

/// Exchanges a one-time enrolment code for this workstation's credential.
pub fn enrol(
    server_url: &str,
    request: &EnrolRequest,
    timeouts: Timeouts,
) -> Result<EnrolResponse, SyncError> {
    let response = agent(timeouts)?
        .post(&format!("{}/v1/enrol", base(server_url)))
        .set(PROTOCOL_HEADER, &PROTOCOL_VERSION.to_string())
        .send_json(request)
        .map_err(failure)?;
    read_json(response)
}

/// The enrolled workstation's calls.
pub struct HttpTransport {
    agent: ureq::Agent,
    base: String,
    authorization: String,
    protocol: u32,
}

impl HttpTransport {
    pub fn new(
        server_url: &str,
        device_id: &str,
        secret: &str,
        timeouts: Timeouts,
    ) -> Result<Self, SyncError> {
        Ok(HttpTransport {
            agent: agent(timeouts)?,
            base: base(server_url),
            authorization: format!("{DEVICE_AUTH_SCHEME} {device_id}:{secret}"),
            protocol: PROTOCOL_VERSION,
        })
    }

    /// Speaks another protocol version (tests of version negotiation).
    pub fn with_protocol(mut self, version: u32) -> Self {
        self.protocol = version;
        self
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent
            .request(method, &format!("{}{path}", self.base))
            .set("authorization", &self.authorization)
            .set(PROTOCOL_HEADER, &self.protocol.to_string())
    }
}

impl Transport for HttpTransport {
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        let response = self
            .request("POST", "/v1/sync/push")
            .send_json(request)
            .map_err(failure)?;
        read_json(response)
    }

    fn pull(&self, after: u64, limit: u32) -> Result<PullResponse, SyncError> {
        let response = self
            .request("GET", "/v1/sync/pull")
            .query("after", &after.to_string())
            .query("limit", &limit.to_string())
            .call()
            .map_err(failure)?;
        read_json(response)
    }
}
