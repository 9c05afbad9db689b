//! The engine's tests in one test binary, so that llama.cpp and burn are linked once for all of
//! them rather than once per file.

mod copy;
mod import;
mod jobs;
