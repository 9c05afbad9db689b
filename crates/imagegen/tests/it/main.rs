//! Integration tests of the image models.

mod eval;
mod train;
