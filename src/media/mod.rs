//! The media plane: an SFU that applies the forwarding policy it is given.
//!
//! # Shape
//!
//! A pure core ([`sfu`]) holds every peer connection, built on the sans-IO
//! core of webrtc-rs (the `rtc` crate): datagrams are handed to the right
//! connection by ICE ufrag then remote address ([`demux`]), and every
//! connection is driven with the time passed in. One task ([`driver`]) owns
//! the media port (one UDP port: one socket, or one per interface address
//! when bound to the wildcard) and drives the core. One port for all
//! clients, no task per connection — the same shape as the control plane,
//! and the one the async `webrtc` crate cannot give (it binds a socket per
//! connection). The async crate is used only by test peers.
//!
//! # What it forwards
//!
//! Every participant and viewer receives two fixed slots, `chair` and
//! `floor` (audio + video each); the chair's connection, and a technician's
//! over `/ws`, also gets a `tile` per endpoint, added by server-initiated
//! renegotiation as endpoints join.
//! [`router`] picks each leg's publisher from the
//! [`ForwardingPolicy`](crate::control::ForwardingPolicy); a leg whose
//! source changes is rewritten by [`rewrite`] so the client sees one
//! continuous stream, and waits for a keyframe that is requested from the
//! new source ([`keyframe`]). Audio that the policy does not allow never
//! leaves the server.
//!
//! # Layout
//!
//! - [`plane`]: the handle ([`MediaPlane`]) and the types at its boundary.
//! - [`sfu`]: the core: every connection and the forwarding, driven with
//!   the time passed in; no socket, no task (the contract is in its doc).
//! - [`driver`]: the tokio shell: the task, the sockets, the clock.
//! - [`signaling`]: creating, renegotiating and removing connections.
//! - [`forwarding`]: routes, packets and keyframe requests between them.
//! - [`port`]: the UDP sockets of the one media port, and the candidates.
//! - [`tcp`]: ICE-TCP, the media port's TCP twin (RFC 6544, RFC 4571).
//! - [`demux`]: datagram → connection.
//! - [`engine`]: how a server-side connection is configured.
//! - [`peer`]: one connection, its inbound tracks and outgoing legs.
//! - [`router`]: policy → source per leg.
//! - [`sdp`]: what the server's SDP must carry for every standard client.
//! - [`rewrite`]: SSRC, payload type, sequence, timestamp, extensions.
//! - [`bitrate`]: the video bit rate asked of each publisher (REMB).
//! - [`keyframe`]: keyframe detection and the PLI throttle.
//! - [`rtcp_tap`]: lets PLI/FIR and reports reach the router.
//! - [`speaker`]: active speaker from audio levels (open mode).
//! - [`stats`]: [`LinkStats`] from our own counters and receiver reports.

mod bitrate;
mod demux;
mod driver;
mod engine;
mod error;
mod forwarding;
mod keyframe;
mod peer;
mod plane;
mod port;
mod record;
mod rewrite;
mod router;
pub mod rtcp_tap;
mod sdp;
mod sfu;
mod signaling;
mod speaker;
mod stats;
mod tcp;

pub use error::MediaError;
pub use plane::{
    BadPeerId, LinkEvent, MediaPlane, Owner, PeerId, PeerKind, Presentation, Signal, SignalPath,
    TrackInfo,
};
pub use stats::LinkStats;
