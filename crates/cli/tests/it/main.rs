//! The `vitrine` binary's tests in one test binary, so that the engine, llama.cpp and burn are
//! linked once for all of them rather than once per file.

mod cli;
mod generate;
mod kill;
mod openai_client;
