//! detente-witness integration tests (one test binary).

mod client;
mod crash;
mod fork;
mod gointerop;
mod http;
mod race;
mod sansio;
mod setup;
mod util;
