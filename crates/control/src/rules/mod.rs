//! The rules that decide what each command does, one file per concept.
//!
//! `Session::decide` only says which rule a command answers to, so each
//! command's checks and the events it yields read in one place, next to
//! the rules that share its state. A rule reads the session and returns
//! events or a rejection; it never writes. The fold in `session` does
//! that, which is what lets a log replay the same whatever the rules
//! become.

mod attendance;
mod audio;
mod content;
mod deadlines;
mod floor;
mod phase;
mod recording;
mod rollcall;
