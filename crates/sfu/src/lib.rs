//! The media plane's core: an SFU that applies the forwarding policy it is
//! given, with no socket, no task and no clock of its own.
//!
//! # Contract
//!
//! [`Sfu`] holds every peer connection, built on the sans-IO core of
//! webrtc-rs (the `rtc` crate). Its caller owns the sockets and the timers
//! and drives it with the time passed in, as quinn-proto and str0m are
//! driven: [`Sfu::handle_datagram`], [`Sfu::handle_timeout`] and the
//! commands in; [`Sfu::poll_transmit`], [`Sfu::poll_event`] and
//! [`Sfu::poll_timeout`] out (the details are in [`sfu`]'s doc). Datagrams
//! are handed to the right connection by ICE ufrag then remote address
//! ([`demux`]). One core serves every client on one port, with no task per
//! connection — the shape the async `webrtc` crate cannot give (it binds a
//! socket per connection).
//!
//! # What it forwards
//!
//! Every participant and viewer receives fixed slots, `chair`, `floor`
//! (audio + video each) and `content`; the chair's connection, and a
//! technician's, also gets a `tile` per endpoint, added by server-initiated
//! renegotiation as endpoints join. [`router`] picks each leg's publisher
//! from the [`ForwardingPolicy`](diemcau_control::ForwardingPolicy); a leg
//! whose source changes is rewritten by [`rewrite`] so the client sees one
//! continuous stream, and waits for a keyframe that is requested from the
//! new source ([`keyframe`]). Audio that the policy does not allow never
//! leaves the server.
//!
//! # Layout
//!
//! - [`sfu`]: the core and its contract; its tests run real WebRTC clients
//!   in memory with a fake clock. Its fields are its own: the files that
//!   add to [`Sfu`] are its child modules (signaling: creating,
//!   renegotiating and removing connections; forwarding: routes, packets
//!   and keyframe requests; bitrate: the ceiling asked of each publisher;
//!   recording: the programme's file while the policy says so). Every other
//!   module is a concept with a type of its own.
//! - [`demux`]: datagram → connection.
//! - [`engine`]: how a server-side connection is configured.
//! - [`peer`]: one connection, its inbound tracks and outgoing legs.
//! - [`router`]: policy → source per leg.
//! - [`sdp`]: what the server's SDP must carry for every standard client.
//! - [`rewrite`]: SSRC, payload type, sequence, timestamp, extensions.
//! - [`keyframe`]: keyframe detection and the PLI throttle.
//! - [`record`]: the programme as a receiver without a connection, handed
//!   to a [`record::RecordSink`].
//! - [`rtcp_tap`]: lets PLI/FIR and reports reach the router.
//! - [`speaker`]: active speaker from audio levels (open mode).
//! - [`stats`]: [`LinkStats`] from our own counters and receiver reports.
//! - [`types`]: who a connection is, what happened to a link, signals.

mod config;
mod demux;
mod engine;
mod error;
mod keyframe;
mod peer;
pub mod record;
mod rewrite;
mod router;
pub mod rtcp_tap;
mod sdp;
mod sfu;
mod speaker;
mod stats;
mod types;

pub use config::Config;
pub use error::MediaError;
pub use sfu::{Candidates, Datagram, Inbox, Outbox, Sfu, SfuEvent, Transmit};
pub use stats::LinkStats;
pub use types::{BadPeerId, LinkEvent, Owner, PeerId, PeerKind, Signal, SignalPath, TrackInfo};
