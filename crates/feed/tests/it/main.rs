//! Integration tests of the feed core: one binary, several modules.

mod attacks;
mod formats;
mod happy;
mod patch;
mod robust;
mod util;
