//! The API served on a thread of its own with a small runtime, for a desktop app that has
//! no server of its own: bound at once (so a taken address is said at once), stopped and
//! joined when dropped.

use crate::api::{self, Vending};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

pub struct Host {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Host {
    /// Listens on `listen` and serves `vending` until dropped.
    pub fn start(listen: SocketAddr, vending: Arc<Vending>) -> std::io::Result<Host> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("vending api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            tracing::error!("the vending API cannot listen: {e}");
                            return;
                        }
                    };
                    if let Err(e) = api::serve(listener, vending, async {
                        let _ = stopped.await;
                    })
                    .await
                    {
                        tracing::error!("the vending API stopped: {e}");
                    }
                });
            })?;
        Ok(Host {
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens (the port chosen, when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
