//! [`Satellite::handle_command`]: requests from outside a turn.

use orbnet_netem::SimTime;

use super::Satellite;
use super::setup::path_window;
use crate::command::Command;
use crate::tcp::TcpPort;

/// Buffers of a connection a test opens (4 MiB each way).
const TEST_BUFFER: usize = 4 << 20;

impl Satellite {
    /// Handles request `cmd` at virtual time `now`.
    pub fn handle_command(&mut self, now: SimTime, cmd: Command) {
        self.catch_up(now);
        let me = self.me;
        match cmd {
            Command::Udp { port, reply } => {
                let p = crate::quic::Port::on(port, &mut self.stack, self.notify.clone());
                let _ = reply.send(
                    p.map(|p| {
                        let s = p.app_socket(crate::addr::address(me));
                        self.apps.push(Box::new(p));
                        s
                    })
                    .map_err(|e| e.to_string()),
                );
            }
            Command::TcpConnect { to, port, reply } => {
                let r = self.connect(to, port, TEST_BUFFER, false);
                let _ = reply.send(r.map_err(|e| e.to_string()));
            }
            Command::TcpListen { port, reply } => {
                let r = TcpPort::listen(&mut self.stack, port, TEST_BUFFER, self.notify.clone())
                    .map(|(p, stream)| {
                        self.apps.push(Box::new(p));
                        stream
                    });
                let _ = reply.send(r.map_err(|e| e.to_string()));
            }
            Command::TcpOpen {
                to,
                port,
                buffer,
                reply,
            } => {
                let r = match to {
                    Some(to) => self.connect(to, port, buffer, true),
                    None => self.listen(port, buffer),
                };
                let _ = reply.send(r.map_err(|e| e.to_string()));
            }
            Command::Counters { reply } => {
                let _ = reply.send(self.counters_json());
            }
            Command::Fault(f) => {
                self.prefetched = None;
                self.routing.add_fault(f);
            }
            Command::Heal { sat, at } => {
                self.prefetched = None;
                self.routing.heal(sat, at);
            }
            Command::Dial { to, port, reply } => {
                // Both ways of a gateway connection are windowed to the
                // path as it is when the client connects.
                let buffer = path_window(self.scenario.world.path(now, me, to), 1);
                match self.connect(to, port, buffer, true) {
                    Ok(stream) => {
                        let _ = reply.send(stream);
                    }
                    Err(e) => tracing::warn!("gateway: {e}"),
                }
            }
            Command::Stop => self.end = self.end.min(now.max(self.last)),
        }
    }

    /// Takes whatever was due up to `now`, then stands at `now`: what a
    /// request opens begins then. A satellite that carried nothing may
    /// have slept for hours of virtual time since its last turn; a socket
    /// opened on its stale clock would send its SYN into a past without
    /// routes and retransmit it, backing off, until its timers caught up.
    fn catch_up(&mut self, now: SimTime) {
        self.handle_timeout(now);
        if !self.finished {
            self.last = self.last.max(now);
        }
    }

    /// A TCP socket listening on `port` for one connection, Nagle on.
    fn listen(
        &mut self,
        port: u16,
        buffer: usize,
    ) -> Result<crate::stream::TcpStream, crate::stack::SocketError> {
        let (p, stream) = TcpPort::listen(&mut self.stack, port, buffer, self.notify.clone())?;
        p.coalesce(&mut self.stack);
        self.apps.push(Box::new(p));
        Ok(stream)
    }

    /// A TCP connection from a fresh local port to `to`:`port`; `coalesce`
    /// for a stream of bytes (see [`TcpPort::coalesce`]).
    fn connect(
        &mut self,
        to: orbnet_netem::SatId,
        port: u16,
        buffer: usize,
        coalesce: bool,
    ) -> Result<crate::stream::TcpStream, crate::stack::SocketError> {
        let local = self.local_port();
        let ip = crate::addr::address(to);
        let (p, stream) = TcpPort::connect(
            &mut self.stack,
            ip,
            port,
            local,
            buffer,
            self.notify.clone(),
        )?;
        if coalesce {
            p.coalesce(&mut self.stack);
        }
        self.apps.push(Box::new(p));
        Ok(stream)
    }
}
