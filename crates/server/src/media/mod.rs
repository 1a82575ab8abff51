//! The media plane: the SFU core ([`diemcau_sfu`]) run by one task of
//! the server.
//!
//! # Shape
//!
//! The core holds every peer connection and decides every packet, with no
//! socket and no clock; one task ([`driver`]) owns the media port (one UDP
//! port: one socket, or one per interface address when bound to the
//! wildcard, and its ICE-TCP twin), reads the clock, and drives the core.
//! The rest of the server holds a [`MediaPlane`] handle that sends the task
//! commands. Recordings are written as WebM or Matroska files by
//! [`record`].
//!
//! # Layout
//!
//! - [`plane`]: the handle ([`MediaPlane`]).
//! - [`driver`]: the task: the sockets, the clock, the channels.
//! - [`port`]: the UDP sockets of the one media port, and the candidates.
//! - [`run`]: datagrams in a row to one address, sent with one system call.
//! - [`tcp`]: ICE-TCP, the media port's TCP twin (RFC 6544, RFC 4571).
//! - [`record`]: recordings as files.

mod driver;
mod plane;
mod port;
mod record;
mod run;
mod tcp;

pub use diemcau_sfu::{
    rtcp_tap, BadPeerId, LinkEvent, LinkStats, MediaError, Owner, PeerId, PeerKind, Signal,
    SignalPath, TrackInfo,
};
pub use plane::{MediaPlane, Presentation};
