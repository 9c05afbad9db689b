//! Integration tests of the image models.

mod train;
